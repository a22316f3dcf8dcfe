from __future__ import annotations

from driftloop_core import ServiceSettings
from driftloop_core.clients import ClientTokenSettings
from driftloop_core.signing import KeySettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict


class PredictorSettings(ServiceSettings, KeySettings, ClientTokenSettings):
    """Predictor: serve every dataset's promoted model, log every prediction. Env prefix
    PREDICTOR_. DRIFTLOOP_DATASET, when set, is what /v1/predict answers for; unset, it
    answers for the only dataset served."""

    model_config = SettingsConfigDict(
        env_prefix="PREDICTOR_",
        populate_by_name=True,
        extra="ignore",
        hide_input_in_errors=True,  # a refused setting's error never echoes a token
    )

    port: int = 8004
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes on the port, each loading and swapping models itself. "
        "More pays on a machine with cores to spare; measure with make bench.",
    )
    max_models: int = Field(
        default=64,
        ge=1,
        description="Most models in memory at once, champions and rollout candidates of every "
        "dataset. Past it the least recently used datasets are unloaded and loaded again on "
        "their next request; a dataset whose own models exceed it is refused (counted).",
    )
    max_model_mb: float | None = Field(
        default=None,
        gt=0,
        description="Most megabytes of models in memory, estimated by their artifacts' sizes; "
        "unset: no byte bound. Past it as for max_models; one model larger than this is "
        "refused and counted in driftloop_predictor_model_refusals_total{reason=bound}.",
    )
    max_batch_rows: int = Field(default=10_000, ge=1, description="Rows per batch request.")
    microbatch_max_rows: int | None = Field(
        default=None,
        ge=1,
        description="Most rows one predict call takes from queued requests. Unset: 2,048 for "
        "slow models (predicted in a thread), 256 for fast ones.",
    )
    microbatch_max_wait_ms: float | None = Field(
        default=None,
        ge=0,
        description="How long a short queue waits for more requests before predicting. Unset: "
        "1 ms for slow models, 0 for fast ones (batches then form from the requests that "
        "arrive during the previous predict and those the event loop already holds).",
    )
    offload: str = Field(
        default="auto",
        pattern="^(auto|always|never)$",
        description="Predict in a worker thread: auto (when one call takes longer than "
        "offload_threshold_ms at load), always or never.",
    )
    offload_threshold_ms: float = Field(default=1.0, ge=0)
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    log_batch_size: int = Field(
        default=1024,
        ge=1,
        description="Predictions gathered per prediction.logged event. A request's predictions "
        "stay together, so one large batch request makes one larger event.",
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

    @model_validator(mode="after")
    def _registry_key(self) -> PredictorSettings:
        self.registry_verifier("the predictor verifies every promotion and rollout")
        return self

    def default_dataset(self) -> str | None:
        """DRIFTLOOP_DATASET if it was set (its default "demo" is not a choice)."""
        return self.dataset if "dataset" in self.model_fields_set else None

    def max_model_bytes(self) -> int | None:
        return int(self.max_model_mb * 1024 * 1024) if self.max_model_mb else None
