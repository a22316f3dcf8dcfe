"""Pure drift detection: windows of live rows against the reference profile, live accuracy."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from driftloop_contracts import (
    CategoricalProfile,
    DatasetSchema,
    FeatureDrift,
    NumericProfile,
    ReferenceProfile,
)
from driftloop_core.datasets import LabelledRow
from driftloop_drift_monitor.detectors import (
    Finding,
    PerformanceDetector,
    WindowDetector,
    change_point,
    chi2_test,
)
from driftloop_ml import feature_matrix
from driftloop_sdk.scenario import REGIONS, CreditScenario
from driftloop_trainer.training import TrainedModel, TrainingConfig, reference_profile, train

SCHEMA: DatasetSchema = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ALPHA = 0.01
WINDOW = 200


def labelled_rows(n: int, seed: int) -> list[LabelledRow]:
    drawn = CreditScenario(seed).draw(n, "before")
    return [
        LabelledRow(features, label, T0 + timedelta(minutes=i))
        for i, (features, label) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


@dataclass(frozen=True)
class Reference:
    model: TrainedModel
    profile: ReferenceProfile


@pytest.fixture(scope="module")
def reference() -> Reference:
    """A small model, profiled on many rows so the reference itself carries little noise."""
    model = train(SCHEMA, labelled_rows(400, seed=1), TrainingConfig())
    profile = reference_profile(
        SCHEMA,
        labelled_rows(4000, seed=2),
        model.pipeline,
        labelled_rows(4000, seed=3),
        model.metrics.accuracy,
        seed=0,
    )
    return Reference(model, profile)


@dataclass(frozen=True)
class LiveRow:
    features: dict[str, Any]
    prediction: str
    at: datetime


def live_rows(
    reference: Reference, n: int, seed: int, start: datetime = T0, **shift: float
) -> list[LiveRow]:
    """n live rows of the training distribution, numeric features moved by `shift`."""
    features = CreditScenario(seed).draw(n, "before").features
    for row in features:
        for name, delta in shift.items():
            row[name] += delta
    predicted = reference.model.pipeline.predict(feature_matrix(SCHEMA, features))
    return [
        LiveRow(row, str(p), start + timedelta(seconds=i))
        for i, (row, p) in enumerate(zip(features, predicted, strict=True))
    ]


def feed(detector: WindowDetector, rows: Sequence[LiveRow]) -> list[Finding]:
    findings: list[Finding] = []
    for row in rows:
        findings += detector.add(row.features, row.prediction, row.at)
    return findings


def windows(rows: Sequence[LiveRow], size: int = WINDOW) -> Iterator[Sequence[LiveRow]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def detector(profile: ReferenceProfile, consecutive: int = 2) -> WindowDetector:
    return WindowDetector(profile, window_size=WINDOW, alpha=ALPHA, consecutive=consecutive)


def data_findings(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind == "data"]


def drifted(finding: Finding) -> set[str]:
    return {e.feature for e in finding.evidence if e.drifted}


# ------------------------------------------------------------------------ data drift


def test_stationary_windows_give_no_finding(reference: Reference) -> None:
    watch = detector(reference.profile)

    findings = feed(watch, live_rows(reference, 10 * WINDOW, seed=20))

    assert findings == []
    assert set(watch.last) == {"data", "prediction"}
    assert watch.filling == 0


def test_the_threshold_per_feature_is_alpha_split_over_the_features(reference: Reference) -> None:
    watch = detector(reference.profile)

    assert math.isclose(watch.threshold, ALPHA / len(SCHEMA.features))


def test_a_window_is_judged_only_once_it_is_full(reference: Reference) -> None:
    watch = detector(reference.profile, consecutive=1)
    rows = live_rows(reference, WINDOW, seed=21, income=30.0)

    assert feed(watch, rows[:-1]) == []
    assert watch.filling == WINDOW - 1
    assert watch.last == {}

    assert data_findings(feed(watch, rows[-1:]))
    assert watch.filling == 0


def test_a_numeric_shift_of_one_std_is_data_drift_after_consecutive_windows(
    reference: Reference,
) -> None:
    watch = detector(reference.profile, consecutive=2)
    rows = live_rows(reference, 2 * WINDOW, seed=22, income=14.0)  # income's std is ~14
    first, second = windows(rows)

    assert data_findings(feed(watch, first)) == []
    (finding,) = data_findings(feed(watch, second))

    assert drifted(finding) == {"income"}
    assert finding.start == rows[0].at
    assert finding.end == rows[-1].at
    assert finding.rows == 2 * WINDOW


def test_data_drift_evidence_carries_statistic_p_value_and_threshold(
    reference: Reference,
) -> None:
    watch = detector(reference.profile, consecutive=1)

    (finding,) = data_findings(feed(watch, live_rows(reference, WINDOW, seed=23, income=14.0)))

    evidence = {e.feature: e for e in finding.evidence}
    assert set(evidence) == set(SCHEMA.feature_names)
    income = evidence["income"]
    assert income.test == "ks"
    assert income.threshold == watch.threshold
    assert income.p_value is not None
    assert income.p_value < income.threshold
    assert 0 < income.statistic <= 1
    assert income.current["mean"] > income.reference["mean"] + 10
    assert income.current["psi"] > 0.1
    assert evidence["region"].test == "chi2"


def test_more_consecutive_windows_delay_the_finding(reference: Reference) -> None:
    watch = detector(reference.profile, consecutive=3)
    rows = live_rows(reference, 3 * WINDOW, seed=24, income=14.0)
    first, second, third = windows(rows)

    assert data_findings(feed(watch, first)) == []
    assert data_findings(feed(watch, second)) == []
    (finding,) = data_findings(feed(watch, third))
    assert finding.rows == 3 * WINDOW
    assert finding.start == rows[0].at


def test_a_clean_window_between_drifted_ones_resets_the_streak(reference: Reference) -> None:
    watch = detector(reference.profile, consecutive=2)
    shifted = live_rows(reference, 2 * WINDOW, seed=25, income=14.0)
    clean = live_rows(reference, WINDOW, seed=26)

    assert data_findings(feed(watch, shifted[:WINDOW])) == []
    assert data_findings(feed(watch, clean)) == []
    assert data_findings(feed(watch, shifted[WINDOW:])) == []


def with_regions(rows: Sequence[LiveRow], shares: Sequence[float], seed: int) -> list[LiveRow]:
    regions = np.random.default_rng(seed).choice(REGIONS, len(rows), p=list(shares))
    return [
        LiveRow({**r.features, "region": str(region)}, r.prediction, r.at)
        for r, region in zip(rows, regions, strict=True)
    ]


def test_a_categorical_frequency_shift_is_caught_by_chi2(reference: Reference) -> None:
    watch = detector(reference.profile, consecutive=1)
    rows = with_regions(live_rows(reference, WINDOW, seed=27), [0.15, 0.15, 0.2, 0.5], seed=1)

    (finding,) = data_findings(feed(watch, rows))

    assert drifted(finding) == {"region"}
    (region,) = [e for e in finding.evidence if e.feature == "region"]
    assert region.test == "chi2"
    assert region.p_value is not None
    assert region.p_value < watch.threshold
    assert region.current["west"] > region.reference["west"] + 0.15


def test_chi2_accepts_a_sample_of_the_reference_frequencies(reference: Reference) -> None:
    region = reference.profile.features["region"]
    assert isinstance(region, CategoricalProfile)
    rng = np.random.default_rng(4)
    names = list(region.frequencies)
    values = rng.choice(names, 500, p=[region.frequencies[n] for n in names])

    result = chi2_test("region", region.frequencies, region.rows, values.tolist(), threshold=0.01)

    assert not result.drifted
    assert result.p_value is not None
    assert result.p_value > 0.01


def test_chi2_flags_a_category_the_reference_never_saw() -> None:
    reference = {"north": 0.5, "south": 0.5}

    result = chi2_test("region", reference, 1000, ["north"] * 90 + ["mars"] * 10, threshold=0.01)

    assert result.drifted
    assert result.current["mars"] == pytest.approx(0.1)


def test_prediction_drift_compares_predicted_classes_with_the_holdout_shares(
    reference: Reference,
) -> None:
    watch = detector(reference.profile, consecutive=1)
    rows = [LiveRow(r.features, "yes", r.at) for r in live_rows(reference, WINDOW, seed=28)]

    findings = feed(watch, rows)

    (finding,) = [f for f in findings if f.kind == "prediction"]
    (evidence,) = finding.evidence
    assert evidence.feature == "prediction"
    assert evidence.threshold == ALPHA
    assert evidence.drifted


def test_a_profile_from_a_small_training_set_gives_no_finding_on_stationary_data() -> None:
    model = train(SCHEMA, labelled_rows(500, seed=1), TrainingConfig())
    watch = WindowDetector(model.profile, window_size=500, alpha=ALPHA, consecutive=2)
    drawn = CreditScenario(101).draw(5000, "before").features
    predicted = model.pipeline.predict(feature_matrix(SCHEMA, drawn))
    findings: list[Finding] = []
    for i, (row, p) in enumerate(zip(drawn, predicted, strict=True)):
        findings += watch.add(row, str(p), T0 + timedelta(seconds=i))

    assert findings == []


# ------------------------------------------------------------------ performance drift


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


def test_performance_is_not_judged_before_min_labels() -> None:
    watch = PerformanceDetector(0.9, window=100, min_labels=40, max_drop=0.1)

    findings = [f for i in range(39) for f in watch.add(False, at(i))]

    assert findings == []
    assert watch.labels == 39
    assert watch.accuracy == 0.0


def test_performance_drift_fires_once_min_labels_show_a_drop_beyond_max_drop() -> None:
    watch = PerformanceDetector(0.9, window=100, min_labels=40, max_drop=0.1)
    outcomes = [True] * 20 + [False] * 20

    findings = [f for i, ok in enumerate(outcomes) for f in watch.add(ok, at(i))]

    (finding,) = findings
    assert finding.kind == "performance"
    assert finding.start == at(20)  # the first wrong prediction
    assert finding.end == at(39)
    assert finding.rows == 20
    (evidence,) = finding.evidence
    assert evidence.test == "accuracy_drop"
    assert evidence.statistic == pytest.approx(0.4)
    assert evidence.threshold == 0.1
    assert evidence.p_value is None
    assert evidence.drifted
    assert evidence.reference == {"accuracy": 0.9}
    assert evidence.current == {"accuracy": 0.5, "labels": 40}


def test_a_drop_of_at_most_max_drop_is_no_performance_drift() -> None:
    watch = PerformanceDetector(0.9, window=50, min_labels=40, max_drop=0.1)
    outcomes = [True, True, True, True, False] * 40  # every 50-label window holds 80 % correct

    findings = [f for i, ok in enumerate(outcomes) for f in watch.add(ok, at(i))]

    assert findings == []
    assert watch.labels == 50
    assert watch.accuracy == pytest.approx(0.8)


def test_live_accuracy_is_taken_over_the_most_recent_labels_only() -> None:
    watch = PerformanceDetector(0.9, window=10, min_labels=10, max_drop=0.1)
    for i in range(10):
        watch.add(False, at(i))

    for i in range(10, 20):
        watch.add(True, at(i))

    assert watch.labels == 10
    assert watch.accuracy == 1.0


def test_a_performance_detector_without_labels_has_no_accuracy() -> None:
    watch = PerformanceDetector(0.9, window=10, min_labels=10, max_drop=0.1)

    assert watch.accuracy is None
    assert watch.labels == 0


# ------------------------------------------------------------------------ change_point


def test_change_point_finds_where_correct_turns_into_wrong() -> None:
    assert change_point([True] * 30 + [False] * 30) == 30


def test_change_point_finds_an_off_centre_split() -> None:
    assert change_point([True] * 50 + [False] * 25) == 50


def test_change_point_is_zero_for_input_shorter_than_two_segments() -> None:
    assert change_point([True] * 10 + [False] * 10) == 0
    assert change_point([]) == 0


def test_change_point_is_zero_when_accuracy_never_gets_worse() -> None:
    assert change_point([True] * 60) == 0
    assert change_point([False] * 30 + [True] * 30) == 0


def test_evidence_for_a_feature_missing_from_a_whole_window_survives_the_wire() -> None:
    profile = ReferenceProfile(
        dataset="sparse",
        rows=100,
        features={
            "x": NumericProfile(
                sample=tuple(float(i % 10) for i in range(100)),
                mean=4.5,
                std=2.87,
                quantiles={},
                missing_rate=0.0,
            ),
            "segment": CategoricalProfile(
                frequencies={"a": 0.5, "b": 0.5}, rows=100, missing_rate=0
            ),
        },
        predictions={"no": 1.0},
        holdout_accuracy=0.9,
    )
    watch = WindowDetector(profile, window_size=50, alpha=ALPHA, consecutive=1)

    findings = [f for i in range(50) for f in watch.add({"x": 100.0, "segment": None}, "no", at(i))]

    (finding,) = data_findings(findings)
    for evidence in finding.evidence:
        assert FeatureDrift.model_validate_json(evidence.model_dump_json()) == evidence
