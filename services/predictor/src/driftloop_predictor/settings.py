from __future__ import annotations

from driftloop_core import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class PredictorSettings(ServiceSettings):
    """Predictor: serve the promoted model, log every prediction. Env prefix PREDICTOR_."""

    model_config = SettingsConfigDict(
        env_prefix="PREDICTOR_", populate_by_name=True, extra="ignore"
    )

    port: int = 8004
    max_batch_rows: int = Field(default=10_000, ge=1, description="Rows per batch request.")
    log_batch_size: int = Field(
        default=256, ge=1, description="Predictions per prediction.logged event."
    )
    log_flush_ms: int = Field(
        default=200, ge=10, description="Longest a logged prediction waits before publishing."
    )
    log_buffer_max: int = Field(
        default=100_000,
        ge=1,
        description="Predictions held while Redis is unreachable; beyond it the oldest are "
        "dropped and counted in driftloop_predictor_logs_dropped_total.",
    )
