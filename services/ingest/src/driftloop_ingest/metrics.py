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
