"""What GET /v1/drift answers: every watch, by dataset and version, as memory holds it (so a
kind shows as fired only once its drift event was committed)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from driftloop_contracts import DriftKind, FeatureDrift
from pydantic import BaseModel, Field

from .errors import ErrorDetector
from .performance import PerformanceDetector
from .watch import Watch, WatchKey


class WindowStatus(BaseModel):
    size: int = Field(description="Rows per test window.")
    step: int = Field(description="Rows between two tests.")
    tested: int = Field(description="Windows tested since the watch began.")
    filling: int = Field(description="Rows the window holds now.")
    threshold_per_feature: float = Field(description="alpha / features (Bonferroni).")
    strict_threshold_per_feature: float = Field(description="alpha_strict / features.")
    last: dict[str, list[FeatureDrift]] = Field(
        description="Evidence of the last window tested, by kind (data, prediction)."
    )


class PerformanceStatus(BaseModel):
    baseline_accuracy: float = Field(
        description="Accuracy the version was promoted with, or the one it was re-armed "
        "against (regression: the holdout's share of errors within the tolerance, 0.8)."
    )
    live_accuracy: float | None = Field(
        description="Accuracy over the latest labels (regression: share of errors within "
        "the tolerance)."
    )
    labels: int = Field(description="Labels live accuracy is taken over.")
    adwin_error_after_last_change: float | None
    reference_mae: float | None = Field(
        default=None, description="Regression: the holdout's mean absolute error."
    )
    tolerance: float | None = Field(
        default=None, description="Regression: the holdout's 80th percentile absolute error."
    )
    live_mae: float | None = Field(
        default=None, description="Regression: mean absolute error over the latest labels."
    )


class WatchStatus(BaseModel):
    dataset: str
    model_version: int
    promotion_id: uuid.UUID = Field(description="The promotion drift events are keyed by.")
    promoted_at: datetime
    windows: WindowStatus
    performance: PerformanceStatus
    fired: list[DriftKind] = Field(description="Kinds already announced for this promotion.")
    rearmed: int = Field(
        default=0,
        description="Times the performance kind was armed again after the trainer skipped "
        "its retrain because the champion holds (baseline_accuracy is then the champion's "
        "accuracy the trainer measured, when under the promoted one).",
    )


class DatasetStatus(BaseModel):
    dataset: str
    serving_version: int = Field(
        description="The version most recently seen in primary prediction logs."
    )
    versions: list[WatchStatus] = Field(description="Watched versions, most recently seen first.")


class MonitorStatus(BaseModel):
    watching: bool = Field(description="At least one version is watched.")
    datasets: dict[str, DatasetStatus]


def watch_status(watch: Watch) -> WatchStatus:
    windows, performance = watch.windows, watch.performance
    return WatchStatus(
        dataset=watch.key.dataset,
        model_version=watch.key.version,
        promotion_id=watch.promotion.event_id,
        promoted_at=watch.promotion.occurred_at,
        windows=WindowStatus(
            size=windows.window_size,
            step=windows.config.step,
            tested=windows.windows_tested,
            filling=windows.filling,
            threshold_per_feature=windows.threshold,
            strict_threshold_per_feature=windows.strict,
            last={kind: list(evidence) for kind, evidence in windows.last.items()},
        ),
        performance=performance_status(performance),
        fired=sorted(watch.fired),
        rearmed=watch.rearm.count,
    )


def performance_status(performance: PerformanceDetector) -> PerformanceStatus:
    status = PerformanceStatus(
        baseline_accuracy=performance.baseline,
        live_accuracy=performance.accuracy,
        labels=performance.labels,
        adwin_error_after_last_change=performance.adwin_error,
    )
    if not isinstance(performance, ErrorDetector):
        return status
    return status.model_copy(
        update={
            "reference_mae": performance.reference_mae,
            "tolerance": performance.tolerance,
            "live_mae": performance.mae,
        }
    )


def monitor_status(watches: Mapping[WatchKey, Watch], dataset: str | None = None) -> MonitorStatus:
    by_dataset: dict[str, list[Watch]] = {}
    for watch in sorted(watches.values(), key=lambda w: (-w.last_seen, w.key)):
        if dataset is None or watch.key.dataset == dataset:
            by_dataset.setdefault(watch.key.dataset, []).append(watch)
    return MonitorStatus(
        watching=bool(by_dataset),
        datasets={
            name: DatasetStatus(
                dataset=name,
                serving_version=held[0].key.version,
                versions=[watch_status(w) for w in held],
            )
            for name, held in sorted(by_dataset.items())
        },
    )
