"""Ingest's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter

PAIRS_JOINED = Counter(
    "driftloop_ingest_pairs_joined_total",
    "Predictions joined with their label and announced on prediction.labelled, by role.",
    ["role"],
)
TRAINING_ROWS_SKIPPED = Counter(
    "driftloop_ingest_feedback_rows_skipped_total",
    "Joined answers that gave no feedback training row: their prediction.logged entry was "
    "trimmed (entry_trimmed), or ingest has no schema for their dataset (unknown_dataset).",
    ["reason"],
)
DATASETS_REGISTERED = Counter(
    "driftloop_ingest_datasets_registered_total",
    "dataset.registered events this ingest published: new datasets, additive evolutions (new "
    "schema version), updated training or monitoring settings.",
    ["change"],
)
SEED_FILES_SKIPPED = Counter(
    "driftloop_ingest_schema_files_skipped_total",
    "Schema files in INGEST_SCHEMA_DIR that could not be registered at start-up (logged with "
    "the file's path and the reason): unreadable, invalid, or not an additive evolution.",
    ["reason"],
)
