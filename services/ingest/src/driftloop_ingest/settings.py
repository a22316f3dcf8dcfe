from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from driftloop_core import ServiceSettings
from driftloop_core.clients import ClientTokenSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from .validation import TimeWindow


class IngestSettings(ServiceSettings, ClientTokenSettings):
    """Ingest: records in, validated immutable dataset versions out; the one label joiner.
    Env prefix INGEST_."""

    model_config = SettingsConfigDict(
        env_prefix="INGEST_",
        populate_by_name=True,
        extra="ignore",
        hide_input_in_errors=True,  # a refused setting's error never echoes a token
    )

    port: int = 8001
    schema_dir: Path = Field(
        default=Path(".driftloop/schemas"),
        description="Seeds: each *.json here (a DatasetSchema, or a registration {schema, "
        "training?, monitoring?}) is registered at start-up as POST /v1/datasets would; a bad "
        "file is logged with its path, counted and skipped.",
    )
    batch_size: int = Field(
        default=200, ge=1, description="Stream entries read per delivery (one version each)."
    )
    label_wait_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long a prediction waits for its label (and a label for its "
        "prediction): the join state of each side expires after this. Keep it within "
        "DRIFTLOOP_RETENTION_S: a training row reads its features back from the "
        "prediction.logged entry, which retention trims.",
    )
    early_label_wait_s: int = Field(
        default=3600,
        ge=60,
        description="How long a label whose prediction has not been joined yet waits for it "
        "(at most INGEST_LABEL_WAIT_S). Its prediction can only be as far away as ingest's "
        "prediction.logged backlog; a label for an id never predicted is gone after this, so "
        "what clients can make Redis hold is this many seconds of labels.",
    )
    shadow_wait_s: int = Field(
        default=60,
        ge=0,
        description="How long a label joined with its answer waits for the shadow's "
        "prediction of the same id (a live trial compares the two), in datasets that had a "
        "shadow prediction logged in the last ten minutes; 0: never.",
    )
    entry_cache: int = Field(
        default=64,
        ge=1,
        description="prediction.logged entries whose features are kept in memory for the "
        "training rows of joined labels (others are read back from the stream).",
    )
    feedback_rows: int = Field(
        default=5_000,
        ge=1,
        description="Joined labels gathered before they are written as one feedback dataset "
        "version (1: a version per delivery, as before).",
    )
    feedback_wait_s: float = Field(
        default=0.5,
        ge=0.0,
        description="...or once the first gathered label has waited this long, whichever "
        "comes first: the longest a label waits to become a training row is about 1.5x this "
        "(at 2 s the e2e loop, ~2,000 labelled rows a second, served 8,000 post-drift rows "
        "before its retrain's rows arrived).",
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, description="Largest CSV upload.")
    max_json_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest body of every other route (JSON records, labels, datasets): "
        "refused with 413 before it is read.",
    )
    max_future_s: int = Field(
        default=24 * 3600,
        ge=0,
        description="A row observed more than this after now is rejected with the reason.",
    )
    max_past_days: int = Field(
        default=3650,
        ge=1,
        description="A row observed more than this many days before now is rejected.",
    )

    def window(self) -> TimeWindow:
        """How far from now a submitted row's observed_at may be."""
        return TimeWindow(timedelta(seconds=self.max_future_s), timedelta(days=self.max_past_days))

    def retention_warning(self) -> str | None:
        """Why the label wait and the stream retention disagree, if they do."""
        if self.label_wait_s <= self.retention_s:
            return None
        return (
            f"INGEST_LABEL_WAIT_S ({self.label_wait_s} s) exceeds DRIFTLOOP_RETENTION_S "
            f"({self.retention_s} s): labels that arrive after retention trimmed their "
            "prediction.logged entry are announced but give no training row"
        )
