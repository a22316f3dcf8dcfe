"""Pure drift detection with real statistics: sliding windows of live rows against the
reference profile (KS / chi-square with effect sizes, strong-once or moderate-in-a-row), and
the error stream of joined labels against the promoted accuracy (ADWIN or a window drop)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from driftloop_contracts import (
    CategoricalProfile,
    FeatureDrift,
    NumericProfile,
    ReferenceProfile,
)
from driftloop_drift_monitor.columns import columns_of
from driftloop_drift_monitor.detectors import (
    DriftConfig,
    Finding,
    PerformanceDetector,
    WindowDetector,
    change_point,
    chi2_test,
    ks_test,
)
from driftloop_drift_monitor.evidence import independence
from driftloop_ml import feature_matrix
from driftloop_sdk.scenario import REGIONS, SCHEMA, CreditScenario
from driftloop_trainer.training import PROFILE_SAMPLE, TrainedModel, TrainingConfig, train
from scipy import stats

from tests.support.data import labelled_rows

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TEN = tuple(f"x{i}" for i in range(10))
SLIDING = DriftConfig(window_size=1000, window_step=500)


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


def rows_since(start: datetime, end: datetime) -> int:
    """Rows between two row timestamps (one row per second), both included."""
    return int((end - start).total_seconds()) + 1


# ------------------------------------------------------------------------ test data


def gaussian_profile(
    names: Sequence[str] = TEN, *, rows: int = 5000, seed: int = 0, sample: int | None = None
) -> ReferenceProfile:
    """The profile the trainer keeps of `rows` N(0, 1) rows per feature: a random sample of
    PROFILE_SAMPLE values each. One predicted class, so predictions never drift here."""
    rng = np.random.default_rng(seed)
    size = sample or min(rows, PROFILE_SAMPLE)
    features: dict[str, NumericProfile | CategoricalProfile] = {}
    for name in names:
        values = rng.normal(size=size)
        features[name] = NumericProfile(
            sample=tuple(values.tolist()),
            mean=float(values.mean()),
            std=float(values.std()),
            quantiles={},
            missing_rate=0.0,
        )
    return ReferenceProfile(
        dataset="gaussian",
        rows=rows,
        features=features,
        predictions={"no": 1.0},
        prediction_rows=rows,
        holdout_accuracy=0.9,
    )


def gaussian_rows(
    n: int,
    seed: int,
    names: Sequence[str] = TEN,
    *,
    shift: Mapping[str, float] | None = None,
    scale: Mapping[str, float] | None = None,
    from_row: int = 0,
) -> list[dict[str, Any]]:
    """n live rows of N(0, 1) features; from `from_row` on, a feature moves by shift[name]
    reference standard deviations (and is stretched by scale[name])."""
    data = np.random.default_rng(seed).normal(size=(n, len(names)))
    for j, name in enumerate(names):
        data[from_row:, j] *= (scale or {}).get(name, 1.0)
        data[from_row:, j] += (shift or {}).get(name, 0.0)
    return [dict(zip(names, row, strict=True)) for row in data.tolist()]


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def feed(
    watch: WindowDetector,
    rows: Sequence[Mapping[str, Any]],
    *,
    first: int = 0,
    predictions: Sequence[str] | None = None,
) -> list[tuple[int, Finding]]:
    """Rows numbered from `first`, one second apart, as one batch of columns; the findings
    with the row they came at (the last row of their window)."""
    names = watch.kinds
    columns = columns_of(
        {name: [row.get(name) for row in rows] for name in names},
        list(predictions) if predictions is not None else ["no"] * len(rows),
        [ms(at(first + i)) for i in range(len(rows))],
        names,
    )
    return [(rows_since(T0, f.end) - 1, f) for f in watch.observe(columns)]


def of_kind(found: Sequence[tuple[int, Finding]], kind: str) -> list[tuple[int, Finding]]:
    return [(i, f) for i, f in found if f.kind == kind]


def drifted(evidence: Sequence[FeatureDrift]) -> set[str]:
    return {e.feature for e in evidence if e.drifted}


def by_feature(evidence: Sequence[FeatureDrift]) -> dict[str, FeatureDrift]:
    return {e.feature: e for e in evidence}


@dataclass(frozen=True)
class Credit:
    """A model of the demo scenario as the trainer produces it, with its reference profile."""

    model: TrainedModel

    @property
    def profile(self) -> ReferenceProfile:
        return self.model.profile

    def live(
        self, n: int, seed: int, phase: str = "before"
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """n live rows of a scenario phase and the model's predictions for them."""
        rows = CreditScenario(seed).draw(n, "after" if phase == "after" else "before").features
        predicted = self.model.pipeline.predict(feature_matrix(SCHEMA, rows))
        return rows, [str(p) for p in predicted]


@pytest.fixture(scope="module")
def credit() -> Credit:
    return Credit(train(SCHEMA, labelled_rows(2000, start=T0, seed=1), TrainingConfig()))


# ---------------------------------------------------------------------- configuration


def test_windows_tumble_unless_a_step_is_configured() -> None:
    assert DriftConfig(window_size=400).step == 400
    assert DriftConfig(window_size=1000, window_step=500).step == 500


def test_alpha_and_alpha_strict_are_split_over_the_features() -> None:
    config = DriftConfig(alpha=0.01, alpha_strict=1e-4)

    watch = WindowDetector(gaussian_profile(), config)

    assert math.isclose(watch.threshold, 0.01 / 10)
    assert math.isclose(watch.strict, 1e-4 / 10)


def test_a_window_is_tested_once_full_and_then_every_step_rows() -> None:
    watch = WindowDetector(gaussian_profile(("x0",)), DriftConfig(window_size=100, window_step=25))
    rows = gaussian_rows(150, seed=1, names=("x0",))

    feed(watch, rows[:99])
    assert (watch.windows_tested, watch.filling, watch.last) == (0, 99, {})

    feed(watch, rows[99:100], first=99)
    assert watch.windows_tested == 1
    assert set(watch.last) == {"data", "prediction"}

    feed(watch, rows[100:124], first=100)
    assert watch.windows_tested == 1

    feed(watch, rows[124:150], first=124)
    assert watch.windows_tested == 3  # after rows 125 and 150
    assert watch.filling == 100  # the window slides: it keeps the latest 100 rows


# ---------------------------------------------------------------------- no false alarm


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thirty_thousand_stationary_rows_raise_no_finding(seed: int) -> None:
    watch = WindowDetector(gaussian_profile(seed=100 + seed), SLIDING)

    found = feed(watch, gaussian_rows(30_000, seed=seed))

    assert found == []
    assert watch.windows_tested == 59  # at 1000 rows, then every 500


def test_stationary_scenario_rows_scored_by_the_model_raise_no_finding(credit: Credit) -> None:
    """Numeric, categorical and predicted-class tests together, default configuration."""
    watch = WindowDetector(credit.profile, DriftConfig())
    rows, predicted = credit.live(10_000, seed=11)

    found = feed(watch, rows, predictions=predicted)

    assert found == []
    assert watch.windows_tested == 20


# --------------------------------------------------------------------- numeric drift


@pytest.mark.parametrize(("seed", "onset"), [(4, 2000), (5, 2250), (6, 2400)])
def test_a_half_std_shift_of_one_of_ten_features_is_caught_within_two_steps(
    seed: int, onset: int
) -> None:
    watch = WindowDetector(gaussian_profile(seed=200 + seed), SLIDING)
    rows = gaussian_rows(onset + 1000, seed=seed, shift={"x3": 0.5}, from_row=onset)

    found = feed(watch, rows)

    (caught, finding), *_ = found
    assert onset <= caught < onset + 1000
    assert finding.kind == "data"
    assert drifted(finding.evidence) == {"x3"}
    shifted = by_feature(finding.evidence)["x3"]
    assert shifted.p_value is not None
    assert shifted.p_value < watch.strict  # strong evidence: found in one window
    assert shifted.threshold == watch.strict
    assert shifted.effect is not None
    assert shifted.effect >= SLIDING.min_effect_numeric
    # the onset is placed at the change inside the window, not at the window's start
    assert abs(rows_since(at(onset), finding.start) - 1) <= 150
    assert finding.end == at(caught)
    assert finding.rows == rows_since(finding.start, finding.end)


def test_a_doubled_spread_is_placed_near_its_onset() -> None:
    errors = {}
    for seed, onset in [(4, 2000), (5, 2250), (6, 2400), (7, 2100)]:
        watch = WindowDetector(gaussian_profile(seed=200 + seed), SLIDING)
        rows = gaussian_rows(onset + 1000, seed=seed, scale={"x3": 2.0}, from_row=onset)
        (_, finding), *_ = feed(watch, rows)
        assert drifted(finding.evidence) == {"x3"}  # detection itself works
        errors[seed] = rows_since(at(onset), finding.start) - 1

    assert all(abs(e) <= 150 for e in errors.values()), errors


def test_ks_evidence_carries_the_normalised_wasserstein_effect_and_psi() -> None:
    profile = gaussian_profile(("x0",))
    reference = profile.features["x0"]
    assert isinstance(reference, NumericProfile)
    values = [row["x0"] for row in gaussian_rows(1000, seed=7, names=("x0",), shift={"x0": 0.5})]

    evidence = ks_test("x0", reference, values, threshold=1e-3, min_effect=0.1)

    assert evidence.test == "ks"
    assert evidence.effect_name == "wasserstein_normed"
    assert evidence.effect == pytest.approx(0.5, abs=0.1)
    assert evidence.min_effect == 0.1
    assert evidence.p_value is not None
    assert evidence.p_value < 1e-3
    assert 0 < evidence.statistic <= 1
    assert evidence.drifted
    assert evidence.current["mean"] == pytest.approx(0.5, abs=0.1)
    assert evidence.current["psi"] > 0.1
    assert evidence.current["missing_rate"] == 0


@dataclass(frozen=True)
class Huge:
    """100,000 reference values and a window of 100,000 shifted by 0.05 std."""

    profile: ReferenceProfile
    reference: NumericProfile
    rows: list[dict[str, Any]]

    @property
    def values(self) -> list[float]:
        return [r["x0"] for r in self.rows]


@pytest.fixture(scope="module")
def huge() -> Huge:
    n = 100_000
    profile = gaussian_profile(("x0",), rows=n, sample=n, seed=8)
    reference = profile.features["x0"]
    assert isinstance(reference, NumericProfile)
    return Huge(profile, reference, gaussian_rows(n, seed=9, names=("x0",), shift={"x0": 0.05}))


def test_a_significant_shift_below_min_effect_is_not_drift(huge: Huge) -> None:
    tiny = ks_test("x0", huge.reference, huge.values, threshold=1e-6, min_effect=0.1)
    without_minimum = ks_test("x0", huge.reference, huge.values, threshold=1e-6, min_effect=0)

    assert tiny.p_value is not None
    assert tiny.p_value < 1e-6  # far beyond chance
    assert tiny.effect is not None
    assert tiny.effect < 0.1  # far too small to matter
    assert not tiny.drifted
    assert without_minimum.drifted


def test_a_window_detector_ignores_a_significant_shift_below_min_effect(huge: Huge) -> None:
    watch = WindowDetector(huge.profile, DriftConfig(window_size=len(huge.rows)))

    found = feed(watch, huge.rows)

    assert found == []
    (evidence,) = watch.last["data"]
    assert evidence.p_value is not None
    assert evidence.p_value < watch.strict
    assert not evidence.drifted


# ---------------------------------------------------------------- the decision rule

MODERATE = {"b": 0.3}  # p around 1e-5 over 500 rows: under alpha, far above alpha_strict
STRONG = {"a": 3.0}  # p around 0


@pytest.fixture
def two_features() -> WindowDetector:
    """Two features; alpha 0.2 and alpha_strict 1e-20 leave a wide band for moderate
    evidence; tumbling windows of 500 rows; three moderate windows in a row make drift."""
    config = DriftConfig(window_size=500, alpha=0.2, alpha_strict=1e-20, consecutive=3)
    return WindowDetector(gaussian_profile(("a", "b"), seed=10), config)


def windows_of(watch: WindowDetector, *shifts: Mapping[str, float]) -> list[dict[str, Any]]:
    """Consecutive windows of rows, each shifted as given."""
    size = watch.window_size
    rows: list[dict[str, Any]] = []
    for k, shift in enumerate(shifts):
        rows += gaussian_rows(size, seed=20 + k, names=("a", "b"), shift=shift)
    return rows


def test_strong_evidence_in_one_window_is_drift_at_once_at_the_strict_threshold(
    two_features: WindowDetector,
) -> None:
    watch = two_features

    (caught, finding), *_ = of_kind(feed(watch, windows_of(watch, STRONG | MODERATE)), "data")

    assert caught == watch.window_size - 1  # the first window
    evidence = by_feature(finding.evidence)
    assert {e.threshold for e in finding.evidence} == {watch.strict}
    assert drifted(finding.evidence) == {"a"}  # b is only moderate: reported, not drifted
    moderate = evidence["b"]
    assert moderate.p_value is not None
    assert watch.strict < moderate.p_value < watch.threshold
    assert finding.start == at(0)  # the whole window moved
    assert finding.end == at(caught)
    assert finding.rows == watch.window_size


def test_moderate_evidence_is_drift_after_consecutive_windows_in_a_row(
    two_features: WindowDetector,
) -> None:
    watch = two_features
    size = watch.window_size
    rows = windows_of(watch, MODERATE, MODERATE, MODERATE)

    assert feed(watch, rows[: 2 * size]) == []
    assert drifted(watch.last["data"]) == {"b"}

    ((caught, finding),) = feed(watch, rows[2 * size :], first=2 * size)

    assert caught == 3 * size - 1
    assert finding.kind == "data"
    assert drifted(finding.evidence) == {"b"}
    assert {e.threshold for e in finding.evidence} == {watch.threshold}
    assert finding.start == at(0)  # the start of the streak's first window
    assert finding.end == at(caught)


def test_a_clean_window_resets_the_streak_of_moderate_evidence(
    two_features: WindowDetector,
) -> None:
    watch = two_features
    size = watch.window_size
    rows = windows_of(watch, MODERATE, MODERATE, {}, MODERATE, MODERATE, MODERATE)

    assert feed(watch, rows[: 2 * size]) == []
    assert feed(watch, rows[2 * size : 3 * size], first=2 * size) == []
    assert drifted(watch.last["data"]) == set()
    assert feed(watch, rows[3 * size : 5 * size], first=3 * size) == []

    ((caught, finding),) = feed(watch, rows[5 * size :], first=5 * size)

    assert caught == 6 * size - 1
    assert finding.start == at(3 * size)  # the streak restarted after the clean window


def test_with_sliding_windows_the_streak_starts_where_its_first_window_starts() -> None:
    config = DriftConfig(
        window_size=500, window_step=250, alpha=0.2, alpha_strict=1e-20, consecutive=3
    )
    watch = WindowDetector(gaussian_profile(("a", "b"), seed=10), config)
    onset = 1100
    rows = gaussian_rows(3000, seed=30, names=("a", "b"), shift=MODERATE, from_row=onset)
    tested: list[tuple[datetime, bool]] = []  # each window's start, and whether it drifted
    found: list[tuple[int, Finding]] = []
    for first in range(0, len(rows), config.step):
        found += feed(watch, rows[first : first + config.step], first=first)
        if watch.windows_tested > len(tested):
            start = at(first + config.step - config.window_size)
            tested.append((start, bool(drifted(watch.last["data"]))))
        if found:
            break

    ((caught, finding),) = found
    flags = [flag for _, flag in tested]
    assert flags[-3:] == [True, True, True]
    assert not any(flags[: flags.index(True)])  # no earlier streak
    first_drifted = tested[flags.index(True)][0]
    assert finding.start == first_drifted
    assert finding.start <= at(onset) < at(caught)


def test_a_finding_carries_the_window_values_of_every_feature_and_the_predictions(
    two_features: WindowDetector,
) -> None:
    watch = two_features
    rows = windows_of(watch, STRONG)
    predictions = ["yes" if i % 2 else "no" for i in range(len(rows))]

    ((_, finding), *_) = feed(watch, rows, predictions=predictions)

    assert set(finding.current) == {"a", "b", "prediction"}
    assert list(finding.current["a"]) == [r["a"] for r in rows]
    assert list(finding.current["prediction"]) == predictions


# ---------------------------------------------------------------- categorical drift


def test_a_sample_of_the_reference_frequencies_is_no_chi2_drift(credit: Credit) -> None:
    region = credit.profile.features["region"]
    assert isinstance(region, CategoricalProfile)
    names = list(region.frequencies)
    values = np.random.default_rng(4).choice(names, 500, p=[region.frequencies[n] for n in names])

    evidence = chi2_test("region", region.frequencies, region.rows, values.tolist(), 0.01)

    assert not evidence.drifted
    assert evidence.p_value is not None
    assert evidence.p_value > 0.01
    assert evidence.effect_name == "jensen_shannon"


def test_chi2_counts_the_reference_as_a_sample_of_its_own_size() -> None:
    """60/40 against 50/50: against a small reference the difference may be its noise."""
    shares = {"a": 0.5, "b": 0.5}
    current = ["a"] * 60 + ["b"] * 40

    small = chi2_test("c", shares, 100, current, threshold=0.05)
    huge = chi2_test("c", shares, 1_000_000, current, threshold=0.05)

    assert small.p_value is not None
    assert huge.p_value is not None
    assert huge.p_value < 0.05 < small.p_value
    assert small.effect == huge.effect


def test_chi2_effect_is_the_jensen_shannon_distance() -> None:
    shares = {"a": 0.5, "b": 0.5}

    same = chi2_test("c", shares, 1000, ["a", "b"] * 500, threshold=0.01)
    disjoint = chi2_test("c", shares, 1000, ["z"] * 1000, threshold=0.01)

    assert same.effect == pytest.approx(0.0, abs=1e-6)
    assert disjoint.effect == pytest.approx(1.0, abs=0.02)
    assert disjoint.current["z"] == 1.0
    assert disjoint.current["psi"] > 1


def test_chi2_flags_a_category_the_reference_never_saw() -> None:
    evidence = chi2_test(
        "region",
        {"north": 0.5, "south": 0.5},
        1000,
        ["north"] * 90 + ["mars"] * 10,
        threshold=0.01,
        min_effect=0.05,
    )

    assert evidence.drifted
    assert evidence.current["mars"] == pytest.approx(0.1)


def test_a_significant_category_shift_below_min_effect_is_not_drift() -> None:
    """51 % instead of 50 % over 100,000 rows against a reference of a million."""
    current = ["a"] * 51_000 + ["b"] * 49_000

    evidence = chi2_test(
        "c", {"a": 0.5, "b": 0.5}, 1_000_000, current, threshold=1e-6, min_effect=0.05
    )

    assert evidence.p_value is not None
    assert evidence.p_value < 1e-6
    assert evidence.effect is not None
    assert evidence.effect < 0.05
    assert not evidence.drifted


def test_a_categorical_frequency_shift_is_data_drift_in_the_first_window(credit: Credit) -> None:
    watch = WindowDetector(credit.profile, DriftConfig())
    rows, predicted = credit.live(500, seed=12)
    regions = np.random.default_rng(3).choice(REGIONS, len(rows), p=[0.15, 0.15, 0.2, 0.5])
    for row, region in zip(rows, regions, strict=True):
        row["region"] = str(region)

    ((caught, finding),) = feed(watch, rows, predictions=predicted)

    assert caught == 499
    assert finding.kind == "data"
    assert drifted(finding.evidence) == {"region"}
    region = by_feature(finding.evidence)["region"]
    assert region.test == "chi2"
    assert region.effect_name == "jensen_shannon"
    assert region.effect is not None
    assert region.effect >= DriftConfig().min_effect_categorical
    assert region.current["west"] > region.reference["west"] + 0.15
    assert region.current["psi"] > 0.1


# ----------------------------------------------------------------- prediction drift


def test_predictions_of_the_shifted_scenario_are_prediction_drift(credit: Credit) -> None:
    config = DriftConfig()
    watch = WindowDetector(credit.profile, config)
    rows, predicted = credit.live(500, seed=13, phase="after")

    found = feed(watch, rows, predictions=predicted)

    ((_, finding),) = of_kind(found, "prediction")
    (evidence,) = finding.evidence
    assert evidence.feature == "prediction"
    assert evidence.drifted
    assert evidence.threshold == config.alpha_strict  # not split over the features
    assert evidence.current["yes"] > credit.profile.predictions["yes"] + 0.2
    assert drifted(of_kind(found, "data")[0][1].evidence) >= {"income", "utilization"}


def test_a_shift_in_predicted_classes_alone_is_prediction_drift(credit: Credit) -> None:
    config = DriftConfig()
    watch = WindowDetector(credit.profile, config)
    rows, _ = credit.live(500, seed=14)
    share = credit.profile.predictions["yes"] + 0.2
    predicted = np.random.default_rng(5).choice(["yes", "no"], 500, p=[share, 1 - share])

    found = feed(watch, rows, predictions=predicted.tolist())

    assert [f.kind for _, f in found] == ["prediction"]
    assert watch.last["prediction"][0].drifted


def test_moderate_prediction_evidence_is_judged_at_alpha(credit: Credit) -> None:
    config = DriftConfig()
    watch = WindowDetector(credit.profile, config)
    rows, predicted = credit.live(500, seed=15)

    feed(watch, rows, predictions=predicted)

    (evidence,) = watch.last["prediction"]
    assert evidence.threshold == config.alpha
    assert not evidence.drifted


# ---------------------------------------------------------------- missing features


def test_a_feature_missing_from_a_whole_window_is_drift_that_survives_the_wire() -> None:
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
            "kept": CategoricalProfile(frequencies={"a": 1.0}, rows=100, missing_rate=0),
        },
        predictions={"no": 1.0},
        prediction_rows=100,
        holdout_accuracy=0.9,
    )
    watch = WindowDetector(profile, DriftConfig(window_size=50))
    rows = [{"segment": None, "kept": "a"}] * 50  # x absent, segment null

    ((_, finding),) = feed(watch, rows)

    assert drifted(finding.evidence) == {"x", "segment"}
    for evidence in finding.evidence:
        wire = evidence.model_dump_json()
        assert "NaN" not in wire
        assert FeatureDrift.model_validate_json(wire) == evidence
        assert all(
            math.isfinite(v) for v in json.loads(wire)["current"].values() if isinstance(v, float)
        )
    missing = by_feature(finding.evidence)
    assert missing["x"].current == {"missing_rate": 1.0}
    assert missing["segment"].current == {"missing_rate": 1.0}
    assert missing["x"].p_value == 0.0


# ---------------------------------------------------------------- performance drift


def at_label(i: int) -> datetime:
    return T0 + timedelta(seconds=i)


def error_stream(seed: int, *phases: tuple[int, float]) -> list[bool]:
    """Correct/wrong outcomes: phases of (labels, error rate)."""
    rng = np.random.default_rng(seed)
    outcomes: list[bool] = []
    for n, error in phases:
        outcomes += (rng.random(n) >= error).tolist()
    return outcomes


def judge(watch: PerformanceDetector, outcomes: Sequence[bool]) -> list[tuple[int, Finding]]:
    """Labels one at a time, one second apart; the findings with the label they came at."""
    return [(i, f) for i, ok in enumerate(outcomes) for f in watch.observe([ok], [ms(at_label(i))])]


def monitor(**overrides: Any) -> PerformanceDetector:
    """The service's defaults for a model promoted at 85 % accuracy."""
    settings: dict[str, Any] = {
        "window": 300,
        "min_labels": 200,
        "max_drop": 0.1,
        "adwin_delta": 0.002,
        "min_error_increase": 0.05,
    }
    return PerformanceDetector(0.85, **(settings | overrides))


def test_performance_is_not_judged_before_min_labels() -> None:
    watch = monitor(window=100, min_labels=40)

    assert judge(watch, [False] * 39) == []
    assert watch.labels == 39
    assert watch.accuracy == 0.0
    assert judge(watch, [False])  # the 40th label


def test_an_error_rise_from_15_to_45_percent_is_caught_by_adwin() -> None:
    """max_drop out of reach: only ADWIN can fire. Seed 0 is one where it does (see the
    expected failure below for the seeds where it does not)."""
    watch = monitor(max_drop=0.5)
    onset = 1000

    ((caught, finding), *_) = judge(watch, error_stream(0, (onset, 0.15), (1000, 0.45)))

    assert onset < caught <= onset + 300
    (evidence,) = finding.evidence
    assert evidence.test == "adwin"
    assert evidence.effect_name == "error_increase"
    assert evidence.effect == pytest.approx(0.3, abs=0.1)
    assert evidence.threshold == 0.05
    assert evidence.p_value is None
    assert evidence.reference == {"accuracy": 0.85}
    assert abs(rows_since(at_label(onset), finding.start) - 1) <= 30
    assert finding.end == at_label(caught)
    assert finding.rows == evidence.current["labels"]


def test_adwin_alone_catches_an_error_rise_from_15_to_45_percent_for_every_seed() -> None:
    missed = []
    for seed in range(6):
        found = judge(monitor(max_drop=0.5), error_stream(seed, (1000, 0.15), (500, 0.45)))
        if not found:
            missed.append(seed)

    assert missed == []


@pytest.mark.parametrize("seed", range(6))
def test_an_error_rise_from_15_to_45_percent_is_caught_within_a_few_hundred_labels(
    seed: int,
) -> None:
    watch = monitor()
    onset = 1000

    ((caught, finding), *_) = judge(watch, error_stream(seed, (onset, 0.15), (300, 0.45)))

    assert onset < caught <= onset + 250
    assert abs(rows_since(at_label(onset), finding.start) - 1) <= 30
    (evidence,) = finding.evidence
    assert evidence.effect is not None
    assert evidence.effect > 0.2


@pytest.mark.parametrize("seed", range(3))
def test_a_stable_error_rate_at_the_promoted_level_is_no_performance_drift(seed: int) -> None:
    watch = monitor()

    assert judge(watch, error_stream(seed, (5000, 0.15))) == []


def test_an_error_rate_that_falls_is_no_performance_drift() -> None:
    watch = monitor()

    assert judge(watch, error_stream(7, (1000, 0.15), (1000, 0.02))) == []


def test_an_error_rise_that_stays_below_the_promoted_error_rate_is_no_drift() -> None:
    watch = monitor()

    assert judge(watch, error_stream(8, (1000, 0.02), (1000, 0.15))) == []


def test_a_window_accuracy_drop_beyond_max_drop_is_performance_drift() -> None:
    watch = monitor(window=100, min_labels=40, min_error_increase=1.0)  # no ADWIN finding

    ((caught, finding),) = judge(watch, [True] * 20 + [False] * 20)

    assert caught == 39
    assert finding.kind == "performance"
    assert finding.start == at_label(20)  # the first wrong prediction
    assert finding.end == at_label(39)
    assert finding.rows == 20
    (evidence,) = finding.evidence
    assert evidence.test == "accuracy_drop"
    assert evidence.threshold == 0.1
    assert evidence.statistic == pytest.approx(0.85)
    assert evidence.effect == pytest.approx(0.85)
    assert evidence.current == {"accuracy": 0.0, "labels": 20, "window_accuracy": 0.5}


def test_a_drop_of_at_most_max_drop_is_no_performance_drift() -> None:
    watch = PerformanceDetector(0.9, window=50, min_labels=40, max_drop=0.1)
    outcomes = [True, True, True, True, False] * 40  # every 50-label window is 80 % correct

    assert judge(watch, outcomes) == []
    assert watch.labels == 50
    assert watch.accuracy == pytest.approx(0.8)


def test_live_accuracy_is_taken_over_the_most_recent_labels_only() -> None:
    watch = monitor(window=10, min_labels=10)
    judge(watch, [False] * 10 + [True] * 10)

    assert watch.labels == 10
    assert watch.accuracy == 1.0


def test_a_performance_detector_without_labels_has_no_accuracy() -> None:
    watch = monitor()

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


def test_the_independence_test_is_scipys_chi2_contingency_without_continuity_correction() -> None:
    rng = np.random.default_rng(11)
    for k in (2, 3, 5, 12):
        table = np.vstack([rng.random(k) * 1000, rng.integers(0, 60, k)]).astype(float) + 0.5

        statistic, p_value = independence(table)

        expected = stats.chi2_contingency(table, correction=False)
        assert statistic == pytest.approx(float(expected.statistic), rel=1e-12)
        assert p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)
