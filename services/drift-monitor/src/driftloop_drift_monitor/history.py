"""What GET /v1/drift/{dataset}/history answers: the tested windows and live accuracy over
time of each watched version, bounded (windows.HISTORY_WINDOWS, performance.HISTORY_POINTS),
for the console's charts. Memory only: a restarted monitor starts a new history."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from driftloop_contracts import FeatureDrift
from pydantic import BaseModel, Field

from .watch import Watch, WatchKey
from .windows import at


class WindowOut(BaseModel):
    window: int = Field(description="The window's number since the watch began.")
    end: datetime = Field(description="Time of the newest row in the window.")
    data: list[FeatureDrift] = Field(description="One test per feature.")
    prediction: list[FeatureDrift] = Field(description="The test on the predictions.")


class AccuracyOut(BaseModel):
    at: datetime = Field(description="Prediction time of the newest label taken.")
    accuracy: float = Field(
        description="Live accuracy (regression: share of errors within the tolerance)."
    )
    labels: int = Field(description="Labels it is taken over.")


class VersionHistory(BaseModel):
    model_version: int
    promoted_at: datetime
    baseline_accuracy: float
    windows: list[WindowOut] = Field(description="Tested windows, oldest first.")
    accuracy: list[AccuracyOut] = Field(description="Live accuracy samples, oldest first.")


class DatasetHistory(BaseModel):
    dataset: str
    versions: list[VersionHistory] = Field(description="Watched versions, oldest first.")


def version_history(watch: Watch) -> VersionHistory:
    return VersionHistory(
        model_version=watch.key.version,
        promoted_at=watch.promotion.occurred_at,
        baseline_accuracy=watch.performance.baseline,
        windows=[
            WindowOut(
                window=w.window,
                end=w.end,
                data=list(w.evidence.get("data", ())),
                prediction=list(w.evidence.get("prediction", ())),
            )
            for w in watch.windows.history
        ],
        accuracy=[
            AccuracyOut(at=at(ms), accuracy=accuracy, labels=labels)
            for ms, accuracy, labels in watch.performance.history
        ],
    )


def dataset_history(watches: Mapping[WatchKey, Watch], dataset: str) -> DatasetHistory | None:
    held = sorted((w for k, w in watches.items() if k.dataset == dataset), key=lambda w: w.key)
    if not held:
        return None
    return DatasetHistory(dataset=dataset, versions=[version_history(w) for w in held])
