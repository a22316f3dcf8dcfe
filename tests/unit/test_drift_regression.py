"""The monitor watching a regression model: performance drift from the absolute errors of
labelled predictions against the training holdout's, and prediction drift on the predicted
numbers against the profile's; few false alarms either way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
from driftloop_contracts import (
    Metrics,
    ModelPromoted,
    NumericProfile,
    PredictionsLabelled,
    PredictionsLogged,
    ReferenceProfile,
)
from driftloop_drift_monitor.errors import ErrorDetector, absolute_errors
from driftloop_drift_monitor.policy import (
    Announce,
    Effect,
    Install,
    Serving,
    Snapshot,
    by_version,
    on_labelled,
    on_logged,
)
from driftloop_drift_monitor.report import report
from driftloop_drift_monitor.status import watch_status
from driftloop_drift_monitor.watch import Watch, WatchKey

from .monitor_world import CONFIGS, T0_MS, WINDOW, promotion

NOW = datetime(2024, 1, 2, tzinfo=UTC)
KEY = WatchKey("houses", 1)
RNG_SD = 10.0  # the holdout's errors: |normal(0, 10)|


def numeric_profile(values: np.ndarray) -> NumericProfile:
    return NumericProfile(
        sample=tuple(values.tolist()),
        mean=float(values.mean()),
        std=float(values.std()),
        quantiles={},
        missing_rate=0.0,
    )


def houses_profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    return ReferenceProfile(
        dataset="houses",
        rows=1000,
        features={"x": numeric_profile(rng.normal(size=1000))},
        predictions={},
        prediction_rows=1000,
        holdout_accuracy=0.0,
        predicted_values=numeric_profile(rng.normal(300, 50, 1000)),
        holdout_errors=tuple(np.abs(rng.normal(0, RNG_SD, 400)).tolist()),
    )


PROFILE = houses_profile()


def houses_promotion() -> ModelPromoted:
    metrics = Metrics(accuracy=0, f1_macro=0, rows=400, mae=8.0, rmse=10.0, r2=0.9)
    return promotion(1, "houses").model_copy(update={"metrics": metrics})


V1 = houses_promotion()


def logs(n: int, *, shift: float = 0.0, seed: int = 1, first_ms: int = T0_MS) -> PredictionsLogged:
    """n rows like the profile; predicted values moved by `shift` standard deviations."""
    rng = np.random.default_rng(seed)
    return PredictionsLogged(
        producer="test",
        dataset="houses",
        model_version=1,
        prediction_ids=tuple(uuid.uuid4() for _ in range(n)),
        features={"x": tuple(rng.normal(size=n).tolist())},
        predictions=tuple((rng.normal(300 + 50 * shift, 50, n)).tolist()),
        scores=None,
        predicted_at_ms=tuple(range(first_ms, first_ms + n * 1000, 1000)),
    )


def labels_of(event: PredictionsLogged, error_sd: float, seed: int = 2) -> PredictionsLabelled:
    """Labels off the predictions by normal(0, error_sd)."""
    noise = np.random.default_rng(seed).normal(0, error_sd, len(event))
    predictions = np.asarray(event.predictions, dtype=float)
    return PredictionsLabelled(
        producer="test",
        dataset="houses",
        model_version=1,
        prediction_ids=event.prediction_ids,
        predictions=event.predictions,
        labels=tuple((predictions + noise).tolist()),
        predicted_at_ms=event.predicted_at_ms,
        labelled_at_ms=event.predicted_at_ms,
    )


def snapshot(watches: dict[WatchKey, Watch] | None = None, seq: int = 1) -> Snapshot:
    return Snapshot(watches or {}, {KEY: Serving(V1, PROFILE)}, seq, NOW)


def decide_logged(snap: Snapshot, *events: PredictionsLogged) -> list[Effect]:
    batches, _ = by_version(events)
    return on_logged(snap, batches, CONFIGS)


def decide_labelled(snap: Snapshot, *events: PredictionsLabelled) -> list[Effect]:
    batches, _ = by_version(events)
    return on_labelled(snap, batches, CONFIGS)


def watched(effects: Sequence[Effect]) -> dict[WatchKey, Watch]:
    (install,) = [e for e in effects if isinstance(e, Install)]
    return dict(install.watches)


def kinds(effects: Sequence[Effect]) -> list[str]:
    return [e.event.kind for e in effects if isinstance(e, Announce)]


def serving_for_a_while(rows: int = 3 * WINDOW) -> dict[WatchKey, Watch]:
    return watched(decide_logged(snapshot(), logs(rows)))


# ------------------------------------------------------------------------ the detector


def test_a_regression_watch_judges_errors_against_the_holdouts() -> None:
    watch = serving_for_a_while()[KEY]

    assert isinstance(watch.performance, ErrorDetector)
    assert watch.performance.tolerance == np.quantile(PROFILE.holdout_errors or (), 0.8)
    assert watch.performance.baseline == 0.8


def test_errors_are_taken_from_rows_with_two_numbers_only() -> None:
    event = labels_of(logs(3), 1.0)
    broken = event.model_copy(update={"labels": (*event.labels[:2], "n/a")})

    errors, at_ms = absolute_errors(broken)

    assert len(errors) == 2 and list(at_ms) == list(event.predicted_at_ms[:2])


# -------------------------------------------------------------------- performance drift


def test_errors_like_the_holdouts_raise_no_performance_drift() -> None:
    watches = serving_for_a_while()
    for seed in range(10):
        event = logs(WINDOW, seed=seed, first_ms=T0_MS + seed * 10**6)
        effects = decide_labelled(snapshot(watches), labels_of(event, RNG_SD, seed=seed))
        assert kinds(effects) == []
        watches = {**watches, **watched(effects)}


def test_errors_twice_the_holdouts_raise_performance_drift_told_in_errors() -> None:
    watches = serving_for_a_while()
    before = logs(200, seed=3)
    after = logs(200, seed=4, first_ms=T0_MS + 10**6)

    effects = decide_labelled(
        snapshot(watches), labels_of(before, RNG_SD, seed=5), labels_of(after, 2.5 * RNG_SD)
    )

    (announce,) = [e for e in effects if isinstance(e, Announce)]
    assert announce.event.kind == "performance"
    (evidence,) = announce.event.evidence
    assert evidence.feature == "absolute_error"
    assert evidence.reference["mae"] == round(float(np.mean(PROFILE.holdout_errors or ())), 6)
    assert float(evidence.current["mae"]) > 1.5 * float(evidence.reference["mae"])
    assert announce.event.window.start >= datetime.fromtimestamp(T0_MS / 1000 + 150, UTC)


def test_the_watch_keeps_the_live_mae() -> None:
    watches = serving_for_a_while()
    event = logs(100)

    watch = watched(decide_labelled(snapshot(watches), labels_of(event, RNG_SD)))[KEY]

    assert isinstance(watch.performance, ErrorDetector)
    assert watch.performance.mae is not None and 5 < watch.performance.mae < 11


# -------------------------------------------------------------------- prediction drift


def test_predicted_values_like_the_profiles_raise_no_prediction_drift() -> None:
    effects = decide_logged(snapshot(), logs(6 * WINDOW))

    assert kinds(effects) == []
    (watch,) = watched(effects).values()
    assert watch.windows.last["prediction"][0].test == "ks"


def test_predicted_values_that_moved_raise_prediction_drift_only() -> None:
    effects = decide_logged(snapshot(), logs(2 * WINDOW), logs(2 * WINDOW, shift=1.0, seed=9))

    assert kinds(effects) == ["prediction"]
    announce = next(e for e in effects if isinstance(e, Announce))
    (evidence,) = announce.event.evidence
    assert evidence.feature == "prediction" and evidence.test == "ks"
    assert "<svg" in report(announce.event, announce.finding, PROFILE)


def test_the_status_of_a_regression_watch_speaks_of_errors() -> None:
    watches = serving_for_a_while()
    watch = watched(decide_labelled(snapshot(watches), labels_of(logs(100), RNG_SD)))[KEY]

    performance = watch_status(watch).performance

    assert performance.reference_mae == np.mean(PROFILE.holdout_errors or ())
    assert performance.live_mae is not None and performance.tolerance is not None


def requests(n: int, error_sd: float, first_ms: int, seed: int) -> PredictionsLabelled:
    """n labelled rows answered in one request: they share one prediction time."""
    event = logs(n, seed=seed, first_ms=first_ms)
    event = event.model_copy(update={"predicted_at_ms": (first_ms,) * n})
    return labels_of(event, error_sd, seed=seed)


def test_the_onset_is_a_request_boundary_so_a_retrain_takes_no_row_of_the_old_relation() -> None:
    watches = serving_for_a_while()
    old = [requests(50, RNG_SD, T0_MS + i * 1000, seed=i) for i in range(4)]
    new = requests(50, 8 * RNG_SD, T0_MS + 10_000, seed=99)

    effects = decide_labelled(snapshot(watches), *old, new)

    (announce,) = [e for e in effects if isinstance(e, Announce)]
    assert announce.event.window.start == datetime.fromtimestamp((T0_MS + 10_000) / 1000, UTC)


def test_a_regression_model_without_holdout_errors_is_judged_against_its_promoted_mae() -> None:
    bare = PROFILE.model_copy(update={"holdout_errors": None})
    snap = Snapshot({}, {KEY: Serving(V1, bare)}, 1, NOW)

    (watch,) = watched(decide_logged(snap, logs(WINDOW))).values()

    assert isinstance(watch.performance, ErrorDetector)
    assert watch.performance.reference_mae == pytest.approx(V1.metrics.mae, rel=0.01)
