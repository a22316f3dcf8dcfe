"""Small value objects that events share."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

#: A feature value as it travels in events: numbers, category strings, or missing.
FeatureValue = float | int | str | bool | None
#: One row of features keyed by feature name.
FeatureRow = dict[str, FeatureValue]


class BlobRef(BaseModel):
    """Claim check: where a large payload lives in the content store, and its sha256."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(
        description="Key in the content store, relative to its root, so hosts that mount the "
        "store at different paths or URLs resolve the same blob.",
        examples=["datasets/3f/3f2a....jsonl"],
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the stored bytes.")
    size: int = Field(ge=0, description="Size in bytes.")


class Record(BaseModel):
    """One labelled row as submitted to ingest. Validation against the schema happens there."""

    model_config = ConfigDict(frozen=True)

    features: dict[str, Any] = Field(description="Feature values keyed by feature name.")
    label: Any = Field(default=None, description="The target value; required for training.")
    observed_at: AwareDatetime | None = Field(
        default=None,
        description="When the row was observed (with a timezone); ingest time if absent.",
    )


class Metrics(BaseModel):
    """Holdout metrics: classification (accuracy, F1) or regression (MAE, RMSE, R2)."""

    model_config = ConfigDict(frozen=True)

    accuracy: float = Field(
        ge=0, le=1, description="Share of rows predicted right (classification; 0 for regression)."
    )
    f1_macro: float = Field(ge=0, le=1, description="Macro F1 (classification; 0 for regression).")
    rows: int = Field(ge=0, description="Rows the metrics were computed on.")
    extra: dict[str, float] = Field(default_factory=dict, description="Other named metrics.")
    mae: float | None = Field(
        default=None, ge=0, description="Mean absolute error (regression; absent otherwise)."
    )
    rmse: float | None = Field(
        default=None, ge=0, description="Root mean squared error (regression; absent otherwise)."
    )
    r2: float | None = Field(
        default=None,
        description="Coefficient of determination, at most 1 (regression; absent otherwise).",
    )

    @property
    def is_regression(self) -> bool:
        return self.mae is not None
