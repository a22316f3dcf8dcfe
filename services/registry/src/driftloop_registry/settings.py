from __future__ import annotations

from pathlib import Path
from typing import Literal

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

    live_trial: Literal["off", "shadow"] = Field(
        default="shadow",
        description="What happens to a candidate that passes the offline gate while a "
        "champion serves. shadow: a live trial (it shadows the champion; the sequential test "
        "on the paired live outcomes promotes or rejects it, or a budget ends it). off: "
        "promoted at once on the offline gate alone. A first model is always promoted at once.",
    )
    trial_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Live trial: the most often a challenger no better than the champion is "
        "promoted (the SPRT's upper boundary, ln 1/alpha).",
    )
    trial_beta: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Live trial: the most often a challenger at the minimum effect is rejected "
        "(the lower boundary, ln beta).",
    )
    trial_min_effect: float = Field(
        default=0.1,
        gt=0,
        lt=0.5,
        description="Live trial: the gain the test looks for, as the challenger's share of the "
        "discordant pairs above one half (0.1: it wins 60% of the pairs only one model gets "
        "right; with models disagreeing on 15% of rows, a 3-point accuracy gain).",
    )
    trial_max_pairs: int = Field(
        default=5000,
        ge=1,
        description="Live trial row budget: paired outcomes after which an undecided trial "
        "rejects the challenger.",
    )
    trial_max_s: float = Field(
        default=3600.0,
        gt=0,
        description="Live trial time budget (seconds from its start) after which an undecided "
        "trial rejects the challenger; checked on each labelled delivery and every "
        "`trial_check_s`.",
    )
    trial_check_s: float = Field(
        default=5.0,
        gt=0,
        description="How often running trials are checked for their time budget and for a "
        "champion or shadow changed by hand.",
    )

    @model_validator(mode="after")
    def _no_placeholder_token(self) -> RegistrySettings:
        token = self.admin_token.get_secret_value() if self.admin_token else None
        check_secret("REGISTRY_ADMIN_TOKEN", token)
        # Refuse to start without the keys: promotions are signed, candidates verified.
        self.signer("the registry signs each promotion and rollout")
        self.trainer_verifier("the registry verifies each candidate's training.completed")
        return self
