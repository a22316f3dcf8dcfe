from __future__ import annotations

from pathlib import Path

from driftloop_bus.secrets import check_secret
from driftloop_core import ServiceSettings
from driftloop_core.signing import KeySettings
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict


class RegistrySettings(ServiceSettings, KeySettings):
    """Registry: versions, lineage, the promotion gate. Env prefix REGISTRY_."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", populate_by_name=True, extra="ignore")

    port: int = 8003
    db_path: Path = Field(default=Path(".driftloop/registry.sqlite3"), description="SQLite file.")
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for promote, rollback and rollouts. Unset: those actions "
        "are disabled.",
    )
    min_accuracy: float = Field(
        default=0.6, ge=0, le=1, description="Floor: no model below this holdout accuracy serves."
    )
    min_f1: float = Field(default=0.0, ge=0, le=1, description="Floor on holdout macro F1.")
    min_improvement: float = Field(
        default=0.0,
        ge=-1,
        le=1,
        description="Candidate accuracy must beat champion accuracy by at least this, both "
        "measured on the candidate's (most recent) holdout.",
    )

    significance: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="A candidate's gain over the champion must be significant at this level "
        "(one-sided exact McNemar on the holdout). 1 turns the test off.",
    )
    min_r2: float = Field(
        default=0.0,
        le=1,
        description="Regression floor: no model below this holdout R2 serves (0: a model must "
        "do at least as well as predicting the mean).",
    )
    min_mae_improvement: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Regression: a candidate's holdout MAE must be below the champion's by at "
        "least this fraction (0.05: 5% lower), and its errors significantly smaller (Wilcoxon "
        "signed-rank on the shared holdout rows, at `significance`).",
    )
    min_holdout_rows: int = Field(
        default=50, ge=1, description="Smallest holdout the gate will judge a candidate on."
    )
    read_side_wait_s: float = Field(
        default=2.0,
        ge=0,
        description="How long an admin action waits, after publishing, for the read side to "
        "show it (the registry applies its own streams to SQLite). The answer's `recorded` "
        "says whether it did; 0 answers at once.",
    )

    @model_validator(mode="after")
    def _no_placeholder_token(self) -> RegistrySettings:
        token = self.admin_token.get_secret_value() if self.admin_token else None
        check_secret("REGISTRY_ADMIN_TOKEN", token)
        # Refuse to start without the keys: promotions are signed, candidates verified.
        self.signer("the registry signs each promotion and rollout")
        self.trainer_verifier("the registry verifies each candidate's training.completed")
        return self
