"""The reference profile: what the training data looked like, for the drift monitor.

The trainer writes it to the store next to the model; model.promoted carries its BlobRef.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class NumericProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["numeric"] = "numeric"
    sample: tuple[float, ...] = Field(description="Random sample of values, for two-sample tests.")
    mean: float
    std: float
    quantiles: dict[str, float] = Field(description="p01, p05, p25, p50, p75, p95, p99.")
    missing_rate: float = Field(ge=0, le=1)


class CategoricalProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["categorical"] = "categorical"
    frequencies: dict[str, float] = Field(description="Share of each category; sums to 1.")
    rows: int = Field(ge=0)
    missing_rate: float = Field(ge=0, le=1)


FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class ReferenceProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    dataset: str
    rows: int = Field(description="Training rows the profile describes.")
    features: dict[str, FeatureProfile]
    predictions: dict[str, float] = Field(
        description="Share of each predicted class over the training and holdout rows."
    )
    prediction_rows: int = Field(
        default=0, ge=0, description="Rows the prediction shares come from (0: unknown)."
    )
    holdout_accuracy: float = Field(ge=0, le=1)
    predicted_values: NumericProfile | None = Field(
        default=None,
        description="Regression: the predicted values over the training and holdout rows, "
        "profiled like a numeric feature (`predictions` is then empty).",
    )
    holdout_errors: tuple[float, ...] | None = Field(
        default=None,
        description="Regression: the absolute error of each holdout row, the reference for "
        "performance drift.",
    )
