"""The monitor's findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..envelope import Event


class WindowRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    rows: int


class FeatureDrift(BaseModel):
    """One test on one feature (or on the predictions or the error rate)."""

    model_config = ConfigDict(frozen=True)

    feature: str
    test: str = Field(examples=["ks", "chi2", "accuracy_drop"])
    statistic: float
    p_value: float | None
    threshold: float = Field(description="Decision threshold the statistic or p-value met.")
    drifted: bool
    reference: dict[str, Any] = Field(description="Summary of the reference distribution.")
    current: dict[str, Any] = Field(description="Summary of the current window.")
    effect: float | None = Field(
        default=None, description="Size of the change (see effect_name), independent of n."
    )
    effect_name: str | None = Field(
        default=None, examples=["wasserstein_normed", "jensen_shannon", "error_increase"]
    )
    min_effect: float | None = Field(
        default=None, description="Smallest effect that counts as drift, whatever the p-value."
    )


DriftKind = Literal["data", "prediction", "performance"]


class DriftDetected(Event):
    """The served model no longer fits the live data. Starts a retraining chain."""

    event_type: Literal["drift.detected"] = "drift.detected"
    dataset: str
    model_version: int = Field(ge=1)
    kind: DriftKind
    window: WindowRef = Field(description="The first window that showed the drift.")
    evidence: tuple[FeatureDrift, ...] = Field(min_length=1)
    report_url: str | None = Field(default=None, description="Where a report can be read.")
