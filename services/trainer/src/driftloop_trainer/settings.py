from __future__ import annotations

from typing import Literal

from driftloop_bus.secrets import check_secret
from driftloop_core import ServiceSettings
from driftloop_core.signing import KeySettings
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from .state import Rules


class TrainerSettings(ServiceSettings, KeySettings):
    """Trainer: when to train, on which rows, with which model. Env prefix TRAINER_."""

    model_config = SettingsConfigDict(env_prefix="TRAINER_", populate_by_name=True, extra="ignore")

    port: int = 8002
    model_family: Literal["auto", "logistic", "random_forest", "gradient_boosting"] = Field(
        default="auto",
        description="Estimator at the end of the Pipeline; `auto` searches logistic "
        "regression (ridge for numbers), HistGradientBoosting and random forests by "
        "cross-validation within search_budget_s.",
    )
    search_budget_s: float = Field(
        default=8.0,
        gt=0,
        le=3600,
        description="Family `auto`: estimated single-thread seconds its search may spend. The "
        "candidates are chosen up front from the row count with a cost model, never cut off "
        "by the clock, so the same rows and seed give the same model.",
    )
    min_initial_rows: int = Field(
        default=500, ge=20, description="Labelled rows needed before the first model is trained."
    )
    min_post_drift_rows: int = Field(
        default=800,
        ge=20,
        description="Labelled rows observed after a drift's onset needed before retraining.",
    )
    followup_retrains: int = Field(
        default=2,
        ge=0,
        description="Retrains after a drift retrain, each when the post-drift rows have "
        "doubled again; the registry gate keeps them out unless they do better.",
    )
    max_retrain_failures: int = Field(
        default=3,
        ge=1,
        description="Failed runs of one drift retrain before it is given up; each retry waits "
        "for more post-drift rows.",
    )
    initial_backoff: float = Field(
        default=1.5,
        gt=1,
        description="After a first model failed to train or was rejected by the registry, the "
        "next attempt waits until the dataset has this many times the rows of the last one.",
    )
    retry_budget_factor: float = Field(
        default=4.0,
        ge=1,
        description="A first model the registry rejected (too weak) is retried at once on the "
        "same rows: a single family with `auto`, `auto` with this many times search_budget_s; "
        "only then does the next attempt wait for initial_backoff times the rows (1: never "
        "widen, always wait).",
    )
    retrain_on: tuple[str, ...] = Field(
        default=("data", "prediction", "performance"),
        description="Drift kinds that start a retrain (others are only recorded).",
    )
    max_rows: int = Field(default=50_000, ge=100, description="Most recent rows trained on.")
    concept_min_rows: int = Field(
        default=0,
        ge=0,
        description="A performance-drift (concept) retrain trains on the rows observed after "
        "the onset; when they are fewer than this, the newest older rows fill in up to it "
        "(0: post-onset rows only).",
    )
    weight_clip: float = Field(
        default=10.0,
        ge=0,
        description="A data- or prediction-drift (covariate) retrain trains on old and new rows, "
        "the old ones weighted p/(1-p) by a domain classifier (old vs new) clipped to "
        "[1/clip, clip]; 0: train on post-onset rows only, unweighted.",
    )
    min_gain: float | None = Field(
        default=0.005,
        description="Before a retrain, the champion is measured on the post-onset labelled rows "
        "beside its own model refitted on them (CV); the retrain is skipped (training.skipped) "
        "unless the refit gains more accuracy than this. Unset: never skipped on evidence.",
    )
    max_gate_rejections: int = Field(
        default=2,
        ge=1,
        description="Retrains of one drift the registry may reject before the next is skipped "
        "(training.skipped); a promotion resets the count.",
    )
    refit_first: bool = Field(
        default=True,
        description="The first run of a drift retrain whose champion was measured (see "
        "min_gain) fits the champion's own pipeline (same family and hyper-parameters) on "
        "the new rows, in one fit, instead of searching: the model the measurement found to "
        "pay, in front of the gate in about a second. Follow-ups search as configured.",
    )
    cache_mb: int = Field(
        default=128,
        ge=0,
        description="Parsed dataset versions kept in memory between runs, in MB (estimated); "
        "with max_rows it bounds the trainer's memory, whatever was ingested.",
    )
    holdout_fraction: float = Field(
        default=0.2, gt=0, lt=0.5, description="Most recent share of rows kept for evaluation."
    )
    cv_folds: int = Field(default=3, ge=2, le=10, description="Folds of the hyperparameter search.")
    seed: int = Field(default=42, description="Seed of every random choice of a run.")
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for registering a model trained elsewhere (POST "
        "/v1/datasets/{dataset}/models). Unset: uploads are disabled (503).",
    )
    max_upload_mb: int = Field(
        default=64, ge=1, le=2048, description="Largest model file accepted, in MB (413 above)."
    )
    allow_pickle_uploads: bool = Field(
        default=False,
        description="Accept joblib/pickle model uploads (unpickling runs the file's code: only "
        "if you trust every admin's files). Off: only skops files (415 for a pickle). Either "
        "way the model is stored as a skops artifact.",
    )

    @model_validator(mode="after")
    def _no_placeholder_token(self) -> TrainerSettings:
        token = self.admin_token.get_secret_value() if self.admin_token else None
        check_secret("TRAINER_ADMIN_TOKEN", token)
        self.signer("the trainer signs each artifact it trains or admits")  # refuse to start
        return self

    def rules(self) -> Rules:
        return Rules(
            min_initial_rows=self.min_initial_rows,
            initial_backoff=self.initial_backoff,
            min_post_drift_rows=self.min_post_drift_rows,
            followup_retrains=self.followup_retrains,
            max_retrain_failures=self.max_retrain_failures,
            retrain_on=self.retrain_on,
            max_rows=self.max_rows,
            concept_min_rows=self.concept_min_rows,
            weight_clip=self.weight_clip,
            min_gain=self.min_gain,
            max_gate_rejections=self.max_gate_rejections,
            refit_first=self.refit_first,
            model_family=self.model_family,
            search_budget_s=self.search_budget_s,
            retry_budget_factor=self.retry_budget_factor,
        )
