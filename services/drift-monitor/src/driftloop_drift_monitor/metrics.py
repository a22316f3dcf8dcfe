"""The monitor's Prometheus metrics, per watched (dataset, model version)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

from .errors import ErrorDetector
from .watch import Watch

DRIFT_SCORE = Gauge(
    "driftloop_drift_score",
    "Test statistic of the last window, per feature.",
    ["dataset", "model_version", "feature", "test"],
)
DRIFT_P_VALUE = Gauge(
    "driftloop_drift_p_value",
    "p-value of the last window, per feature.",
    ["dataset", "model_version", "feature"],
)
LIVE_ACCURACY = Gauge(
    "driftloop_live_accuracy",
    "Accuracy over the most recent labelled predictions.",
    ["dataset", "model_version"],
)
LIVE_MAE = Gauge(
    "driftloop_live_mae",
    "Regression: mean absolute error over the most recent labelled predictions.",
    ["dataset", "model_version"],
)
DRIFT_EVENTS = Counter(
    "driftloop_drift_events_total", "drift.detected events published.", ["dataset", "kind"]
)
IGNORED_ROWS = Counter(
    "driftloop_monitor_ignored_rows_total",
    "Rows or labels not monitored, by reason: no_promotion (a version absent from the "
    "registry's serving state), untrusted_promotion (one the registry did not sign for that "
    "dataset and version), profile_unavailable, not_watched (labels of a version not "
    "watched), role (canary and shadow rows).",
    ["dataset", "stream", "reason"],
)
REPORTS_REFUSED = Counter(
    "driftloop_monitor_reports_refused",
    "Report requests whose link in Redis did not point at a report (logged with the reason).",
)
REARMED = Counter(
    "driftloop_monitor_rearmed_total",
    "Drift kinds armed again after the trainer skipped their retrain because the champion "
    "holds (training.skipped, champion_holds).",
    ["dataset", "kind"],
)
WATCHES = Gauge("driftloop_monitor_watches", "(dataset, model version) pairs watched.")


def export(watch: Watch) -> None:
    """The gauges of one watch, as it is now."""
    labels = {"dataset": watch.key.dataset, "model_version": str(watch.key.version)}
    for evidence in watch.windows.last.get("data", ()):
        DRIFT_SCORE.labels(**labels, feature=evidence.feature, test=evidence.test).set(
            evidence.statistic
        )
        if evidence.p_value is not None:
            DRIFT_P_VALUE.labels(**labels, feature=evidence.feature).set(evidence.p_value)
    if (accuracy := watch.performance.accuracy) is not None:
        LIVE_ACCURACY.labels(**labels).set(accuracy)
    if isinstance(watch.performance, ErrorDetector) and (mae := watch.performance.mae) is not None:
        LIVE_MAE.labels(**labels).set(mae)


def forget(watch: Watch) -> None:
    """Drop the series of an evicted watch, so dashboards do not show it frozen."""
    labels = (watch.key.dataset, str(watch.key.version))
    for evidence in watch.windows.last.get("data", ()):
        _remove(DRIFT_SCORE, *labels, evidence.feature, evidence.test)
        _remove(DRIFT_P_VALUE, *labels, evidence.feature)
    _remove(LIVE_ACCURACY, *labels)
    _remove(LIVE_MAE, *labels)


def _remove(gauge: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)
