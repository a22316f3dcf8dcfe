"""Pure drift detection: windows of live data against the reference profile, and the error
stream against the accuracy the model was promoted with.

Data drift, per feature and per window (sliding: ``window_size`` rows, tested every
``window_step``):

* numeric: two-sample Kolmogorov-Smirnov test, effect = Wasserstein distance / reference std;
* categorical: two-sample chi-square on counts, effect = Jensen-Shannon distance;
* PSI is reported in the summaries, not used to decide.

A feature drifts in a window when its p-value is under the threshold *and* its effect is at
least the minimum (large windows find significant but irrelevant changes). False alarms across
features are controlled with Bonferroni, across windows by asking for either strong evidence
once (``alpha_strict``) or moderate evidence in ``consecutive`` windows in a row (``alpha``).
Prediction drift applies the categorical test to the predicted classes.

Performance drift: ADWIN (river) watches the error stream of joined labels and flags an
increase, which must also exceed the promoted error rate by ``min_error_increase``; or the
accuracy over the last ``label_window`` labels falls ``max_accuracy_drop`` below the promoted
accuracy. The onset is placed at the most likely change point of the recent errors.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from driftloop_contracts import (
    CategoricalProfile,
    DriftKind,
    FeatureDrift,
    NumericProfile,
    ReferenceProfile,
)
from river.drift import ADWIN
from scipy import stats
from scipy.spatial.distance import jensenshannon

SMOOTHING = 1e-4  # share given to a category the reference never saw
MIN_RECENT_LABELS = 50  # labels after a change point before its error rate is believed
RISE_Z = 3.5  # the rise is beyond chance, even for the best of many change points


@dataclass(frozen=True)
class DriftConfig:
    window_size: int = 500
    window_step: int | None = None  # None: tumbling windows
    alpha: float = 0.01
    consecutive: int = 3
    alpha_strict: float = 1e-4
    min_effect_numeric: float = 0.1
    min_effect_categorical: float = 0.05

    @property
    def step(self) -> int:
        return self.window_step or self.window_size


@dataclass(frozen=True)
class Finding:
    kind: DriftKind
    start: datetime
    end: datetime
    rows: int
    evidence: tuple[FeatureDrift, ...]
    #: The current window's values per feature (and "prediction"), for the report.
    current: Mapping[str, Sequence[Any]] = field(default_factory=dict, repr=False)


def _numeric_summary(values: np.ndarray) -> dict[str, float]:
    return {
        "mean": round(float(values.mean()), 6),
        "std": round(float(values.std()), 6),
        "p50": round(float(np.median(values)), 6),
    }


def _top(freqs: Mapping[str, float], n: int = 10) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(freqs.items(), key=lambda kv: -kv[1])[:n]}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(expected, SMOOTHING, None)
    a = np.clip(actual, SMOOTHING, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _missing(name: str, test: str, threshold: float, reference: dict[str, Any]) -> FeatureDrift:
    """A feature with no value in the whole window: drifted, whatever the reference held."""
    return FeatureDrift(
        feature=name,
        test=test,
        statistic=1.0,
        p_value=0.0,
        threshold=threshold,
        drifted=True,
        reference=reference,
        current={"missing_rate": 1.0},
    )


def ks_test(
    name: str, ref: NumericProfile, values: Sequence[Any], threshold: float, min_effect: float = 0.0
) -> FeatureDrift:
    current = np.asarray([v for v in values if v is not None], dtype=float)
    reference = np.asarray(ref.sample, dtype=float)
    summary = _numeric_summary(reference) | {"missing_rate": round(ref.missing_rate, 6)}
    if current.size == 0:
        return _missing(name, "ks", threshold, summary)
    result = stats.ks_2samp(reference, current)
    scale = float(reference.std()) or 1.0
    effect = float(stats.wasserstein_distance(reference, current)) / scale
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)))
    ref_hist = np.histogram(reference, edges)[0] / max(len(reference), 1)
    cur_hist = np.histogram(np.clip(current, edges[0], edges[-1]), edges)[0] / current.size
    p_value = float(result.pvalue)
    return FeatureDrift(
        feature=name,
        test="ks",
        statistic=float(result.statistic),
        p_value=p_value,
        threshold=threshold,
        drifted=bool(p_value < threshold and effect >= min_effect),
        reference=summary,
        current=_numeric_summary(current)
        | {"missing_rate": round(1 - current.size / max(len(values), 1), 6)}
        | {"psi": round(psi(ref_hist, cur_hist), 6)},
        effect=round(effect, 6),
        effect_name="wasserstein_normed",
        min_effect=min_effect,
    )


def chi2_test(
    name: str,
    reference: Mapping[str, float],
    reference_rows: int,
    values: Sequence[Any],
    threshold: float,
    test: str = "chi2",
    min_effect: float = 0.0,
) -> FeatureDrift:
    """Two-sample chi-square of category counts: the reference is a sample too, so its size
    counts (a goodness-of-fit test against its shares would raise false alarms)."""
    counts = Counter(str(v) for v in values if v is not None)
    observed_total = sum(counts.values())
    if observed_total == 0:
        return _missing(name, test, threshold, _top(reference))
    categories = sorted(set(reference) | set(counts))
    current = np.array([counts.get(c, 0) for c in categories], dtype=float)
    shares = np.array([reference.get(c, 0.0) for c in categories])
    if reference_rows > 0:
        table = np.vstack([shares * reference_rows, current])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            statistic, p_value = 0.0, 1.0
        else:
            result = stats.chi2_contingency(table, correction=False)
            statistic, p_value = float(result.statistic), float(result.pvalue)
    else:  # reference size unknown: goodness of fit against its shares
        expected = (shares + SMOOTHING) / (shares + SMOOTHING).sum() * observed_total
        result = stats.chisquare(current, expected)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        if not np.isfinite(p_value):  # a single category: nothing to compare
            statistic, p_value = 0.0, 1.0
    now = current / observed_total
    effect = float(jensenshannon(shares + SMOOTHING, now + SMOOTHING, base=2))
    return FeatureDrift(
        feature=name,
        test=test,
        statistic=statistic,
        p_value=p_value,
        threshold=threshold,
        drifted=bool(p_value < threshold and effect >= min_effect),
        reference=_top(reference),
        current=_top({c: n / observed_total for c, n in counts.items()})
        | {"psi": round(psi(shares, now), 6)},
        effect=round(effect, 6),
        effect_name="jensen_shannon",
        min_effect=min_effect,
    )


@dataclass
class _Streak:
    start: datetime | None = None
    windows: int = 0


class WindowDetector:
    """Sliding windows of live rows, tested feature by feature and on predictions."""

    def __init__(self, profile: ReferenceProfile, config: DriftConfig) -> None:
        self.profile = profile
        self.config = config
        features = max(len(profile.features), 1)
        self.threshold = config.alpha / features  # Bonferroni over features
        self.strict = config.alpha_strict / features
        self._rows: deque[tuple[Mapping[str, Any], str, datetime]] = deque(
            maxlen=config.window_size
        )
        self._since_test = 0
        self._streaks: dict[DriftKind, _Streak] = {"data": _Streak(), "prediction": _Streak()}
        self.last: dict[DriftKind, tuple[FeatureDrift, ...]] = {}
        self.windows_tested = 0

    @property
    def window_size(self) -> int:
        return self.config.window_size

    @property
    def filling(self) -> int:
        return len(self._rows)

    def add(self, row: Mapping[str, Any], prediction: str, at: datetime) -> list[Finding]:
        self._rows.append((row, prediction, at))
        self._since_test += 1
        if len(self._rows) < self.config.window_size or self._since_test < self.config.step:
            return []
        self._since_test = 0
        return self._judge()

    def _values(self) -> dict[str, list[Any]]:
        rows = list(self._rows)
        values = {name: [r.get(name) for r, _, _ in rows] for name in self.profile.features}
        values["prediction"] = [p for _, p, _ in rows]
        return values

    def test(
        self, values: Mapping[str, Sequence[Any]], threshold: float
    ) -> dict[DriftKind, tuple[FeatureDrift, ...]]:
        c = self.config
        evidence: list[FeatureDrift] = []
        for name, ref in self.profile.features.items():
            if isinstance(ref, NumericProfile):
                evidence.append(ks_test(name, ref, values[name], threshold, c.min_effect_numeric))
            elif isinstance(ref, CategoricalProfile):
                evidence.append(
                    chi2_test(
                        name,
                        ref.frequencies,
                        ref.rows,
                        values[name],
                        threshold,
                        min_effect=c.min_effect_categorical,
                    )
                )
        prediction = chi2_test(
            "prediction",
            self.profile.predictions,
            self.profile.prediction_rows,
            values["prediction"],
            threshold * len(self.profile.features),
            min_effect=c.min_effect_categorical,
        )
        return {"data": tuple(evidence), "prediction": (prediction,)}

    def _judge(self) -> list[Finding]:
        """Test the current window; a kind drifts on strong evidence in this window, or on
        moderate evidence in `consecutive` windows in a row."""
        self.windows_tested += 1
        values = self._values()
        self.last = self.test(values, self.threshold)
        start, end = self._rows[0][2], self._rows[-1][2]
        findings = []
        for kind, evidence in self.last.items():
            flagged = [e for e in evidence if e.drifted]
            if not flagged:
                self._streaks[kind] = _Streak()
                continue
            streak = self._streaks[kind]
            streak.start = streak.start or start
            streak.windows += 1
            strict = self.strict if kind == "data" else self.config.alpha_strict
            strong = {e.feature for e in flagged if e.p_value is not None and e.p_value < strict}
            if streak.windows >= self.config.consecutive:
                span = self.config.window_size + (streak.windows - 1) * self.config.step
                findings.append(Finding(kind, streak.start, end, span, evidence, values))
            elif strong:
                decided = tuple(
                    e.model_copy(update={"threshold": strict, "drifted": e.feature in strong})
                    for e in evidence
                )
                onset = self._onset(decided, values)
                findings.append(
                    Finding(
                        kind, self._rows[onset][2], end, len(self._rows) - onset, decided, values
                    )
                )
        return findings

    def _onset(self, evidence: Sequence[FeatureDrift], values: Mapping[str, Sequence[Any]]) -> int:
        """Where in the window the most drifted feature changed: retraining then starts
        from the change, not from rows the window happened to hold before it."""
        top = max((e for e in evidence if e.drifted), key=lambda e: e.effect or 0.0)
        series = values[top.feature]
        if top.test == "ks":
            mean, std = float(top.reference["mean"]), float(top.reference["std"]) or 1.0
            z = (np.asarray([float(v) if v is not None else mean for v in series]) - mean) / std
            # the feature's mean moved, or its spread: take the better explained of the two
            return max(_shift(z), _shift((z**2 - 1) / np.sqrt(2)), key=lambda ks: ks[1])[0]
        shares = {str(k): float(v) for k, v in top.current.items() if k != "psi"}
        moved = max(shares, key=lambda c: abs(shares[c] - float(top.reference.get(c, 0.0))))
        p0 = min(max(float(top.reference.get(moved, 0.0)), 1e-3), 1 - 1e-3)
        hits = np.asarray([str(v) == moved for v in series], dtype=float)
        return shift_point((hits - p0) / np.sqrt(p0 * (1 - p0)))


class PerformanceDetector:
    """The error stream of joined labels against the accuracy the model was promoted with."""

    def __init__(
        self,
        baseline: float,
        *,
        window: int,
        min_labels: int,
        max_drop: float,
        adwin_delta: float = 0.002,
        min_error_increase: float = 0.05,
    ) -> None:
        self.baseline = baseline
        self.min_labels = min_labels
        self.max_drop = max_drop
        self.min_error_increase = min_error_increase
        self._adwin = ADWIN(delta=adwin_delta)
        self._outcomes: deque[tuple[bool, datetime]] = deque(maxlen=window)
        self._seen = 0
        self._hits = 0
        self._since_change: int | None = None  # labels since ADWIN last flagged a change
        self.adwin_error: float | None = None

    @property
    def labels(self) -> int:
        return len(self._outcomes)

    @property
    def accuracy(self) -> float | None:
        return self._hits / len(self._outcomes) if self._outcomes else None

    def add(self, correct: bool, predicted_at: datetime) -> list[Finding]:
        """O(1) per label until something looks wrong; the change point is searched only then."""
        if len(self._outcomes) == self._outcomes.maxlen:
            self._hits -= self._outcomes[0][0]
        self._outcomes.append((correct, predicted_at))
        self._hits += correct
        self._seen += 1
        self._adwin.update(0.0 if correct else 1.0)
        if self._adwin.drift_detected:
            self._since_change = 0
        elif self._since_change is not None:
            self._since_change += 1
            if self._since_change > (self._outcomes.maxlen or 0):
                self._since_change = None  # the change has left the window unexplained
        accuracy = self.accuracy
        if self._seen < self.min_labels or accuracy is None:
            return []
        dropped = self.baseline - accuracy > self.max_drop
        if not dropped and self._since_change is None:
            return []
        outcomes = sorted(self._outcomes, key=lambda o: o[1])
        onset = change_point([ok for ok, _ in outcomes])
        recent = [ok for ok, _ in outcomes[onset:]]
        recent_accuracy = sum(recent) / len(recent)
        baseline_error = 1 - self.baseline
        # ADWIN says the error rate changed; the rows after the change point say by how much
        # (ADWIN's own estimate still holds mostly old rows when it flags).
        rise = (1 - recent_accuracy) - baseline_error
        spread = max(baseline_error * (1 - baseline_error), 1e-4) ** 0.5
        error_up = (
            self._since_change is not None
            and len(recent) >= MIN_RECENT_LABELS
            and rise >= self.min_error_increase
            and rise / spread * len(recent) ** 0.5 > RISE_Z  # not a chance run of errors
        )
        if error_up:
            self.adwin_error = 1 - recent_accuracy
        if not (error_up or dropped):
            return []
        evidence = FeatureDrift(
            feature="accuracy",
            test="adwin" if error_up else "accuracy_drop",
            statistic=round(self.baseline - recent_accuracy, 6),
            p_value=None,
            threshold=self.max_drop if not error_up else self.min_error_increase,
            drifted=True,
            reference={"accuracy": round(self.baseline, 6)},
            current={
                "accuracy": round(recent_accuracy, 6),
                "labels": len(recent),
                "window_accuracy": round(accuracy, 6),
            },
            effect=round((1 - recent_accuracy) - baseline_error, 6),
            effect_name="error_increase",
            min_effect=self.min_error_increase,
        )
        start, end = outcomes[onset][1], outcomes[-1][1]
        return [Finding("performance", start, end, len(recent), (evidence,))]


def shift_point(z: np.ndarray, min_segment: int = 20) -> int:
    """Where a series standardised against the reference (mean 0, sd 1 before the change)
    most plausibly left it: the k maximising the likelihood ratio of "rows k.. have shifted
    mean" over "no change", (sum of z[k:])^2 / (n - k). 0 when the whole window moved."""
    return _shift(z, min_segment)[0]


def _shift(z: np.ndarray, min_segment: int = 20) -> tuple[int, float]:
    n = len(z)
    if n <= min_segment:
        return 0, 0.0
    tail = np.cumsum(z[::-1])[::-1]  # tail[k] = z[k:].sum()
    k = np.arange(0, n - min_segment + 1)
    score = tail[k] ** 2 / (n - k)
    best = int(np.argmax(score))
    return int(k[best]), float(score[best])


def change_point(correct: Sequence[bool], min_segment: int = 20) -> int:
    """Index where the error rate most plausibly changed: the split that maximises the
    difference in accuracy before and after it (weighted by segment sizes). 0 if none."""
    n = len(correct)
    if n < 2 * min_segment:
        return 0
    hits = np.cumsum(np.asarray(correct, dtype=float))
    best, best_score = 0, 0.0
    for k in range(min_segment, n - min_segment + 1):
        before = hits[k - 1] / k
        after = (hits[-1] - hits[k - 1]) / (n - k)
        score = (before - after) * np.sqrt(k * (n - k) / n)
        if score > best_score:
            best, best_score = k, score
    return best
