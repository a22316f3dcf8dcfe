from __future__ import annotations

from pathlib import Path

from driftloop_core import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class IngestSettings(ServiceSettings):
    """Ingest: records in, validated immutable dataset versions out. Env prefix INGEST_."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", populate_by_name=True, extra="ignore")

    port: int = 8001
    schema_dir: Path = Field(
        default=Path(".driftloop/schemas"),
        description="Directory of <dataset>.json DatasetSchema files, read at start-up.",
    )
    batch_size: int = Field(
        default=200, ge=1, description="Stream entries read per delivery (one version each)."
    )
    join_ttl_s: int = Field(
        default=3 * 24 * 3600, ge=60, description="How long a prediction waits for its label."
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, description="Largest CSV upload.")
