"""How a dataset's models are trained: a family from the catalogue, or the user's own code."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A hyperparameter value a search space may list (JSON scalars only).
ParamValue = float | int | str | bool | None

ENTRY_POINT = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


class TrainingSpec(BaseModel):
    """Either ``family`` (with an optional ``search_space`` over its parameters) or
    ``entry_point``: ``package.module:make_estimator``, called with the DatasetSchema and
    returning an unfitted scikit-learn estimator or pipeline. The entry point's package must be
    installed with the trainer; the registry's gate judges its models like any other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="A model family from the trainer's catalogue.",
        examples=["logistic", "random_forest"],
    )
    search_space: dict[str, tuple[ParamValue, ...]] | None = Field(
        default=None,
        description="Candidate values per parameter of the family's estimator (grid search). "
        "Omitted: the family's default space.",
    )
    entry_point: str | None = Field(
        default=None,
        pattern=ENTRY_POINT,
        description="`package.module:function` returning an unfitted estimator for a schema.",
        examples=["my_models.churn:make_estimator"],
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.family is None) == (self.entry_point is None):
            raise ValueError("give exactly one of `family` or `entry_point`")
        if self.entry_point is not None and self.search_space is not None:
            raise ValueError("`search_space` applies to a `family`, not to an `entry_point`")
        return self


class MonitoringOverrides(BaseModel):
    """Per-dataset drift-monitor settings: each key is a MONITOR_* setting, lower case, without
    the prefix, with the same bounds; a key left out keeps the monitor's default. Ingest refuses
    a registration with an unknown key or a value out of bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_size: int | None = Field(default=None, ge=30, description="Live rows per window.")
    window_step: int | None = Field(default=None, ge=1, description="Rows between two tests.")
    alpha: float | None = Field(default=None, gt=0, lt=0.5, description="Moderate evidence rate.")
    consecutive_windows: int | None = Field(
        default=None, ge=1, description="Windows in a row with moderate evidence before drift."
    )
    alpha_strict: float | None = Field(
        default=None, gt=0, lt=0.5, description="Strong evidence: one window under this is drift."
    )
    min_effect_numeric: float | None = Field(
        default=None, ge=0, description="Smallest Wasserstein distance (reference std units)."
    )
    min_effect_categorical: float | None = Field(
        default=None, ge=0, le=1, description="Smallest Jensen-Shannon distance."
    )
    min_labels: int | None = Field(
        default=None, ge=10, description="Labelled predictions before accuracy is judged."
    )
    label_window: int | None = Field(
        default=None, ge=10, description="Labelled predictions live accuracy is taken over."
    )
    max_accuracy_drop: float | None = Field(
        default=None, gt=0, lt=1, description="Accuracy drop below the promoted one that drifts."
    )
    adwin_delta: float | None = Field(
        default=None, gt=0, lt=1, description="ADWIN confidence on the error stream."
    )
    min_error_increase: float | None = Field(
        default=None, gt=0, lt=1, description="Error-rate rise over the promoted one that counts."
    )

    def given(self) -> dict[str, float | int]:
        """Only the keys the registration set."""
        return self.model_dump(exclude_none=True)
