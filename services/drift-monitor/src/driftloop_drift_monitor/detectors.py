"""Pure drift detection: windows of live data against the reference profile.

* data drift: per feature, KS two-sample test (numeric) or chi-square goodness of fit
  (categorical) against the reference; Bonferroni over features keeps the family-wise false
  alarm rate per window at ``alpha``; a drift is declared after ``consecutive`` drifted windows.
* prediction drift: chi-square of predicted classes against their holdout shares.
* performance drift: live accuracy over the last joined labels against the accuracy the model
  was promoted with.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from driftloop_contracts import (
    CategoricalProfile,
    FeatureDrift,
    NumericProfile,
    ReferenceProfile,
)
from scipy import stats

SMOOTHING = 1e-4  # share given to a category the reference never saw


@dataclass(frozen=True)
class Finding:
    kind: str
    start: datetime
    end: datetime
    rows: int
    evidence: tuple[FeatureDrift, ...]


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


def ks_test(
    name: str, ref: NumericProfile, values: Sequence[float], threshold: float
) -> FeatureDrift:
    current = np.asarray([v for v in values if v is not None], dtype=float)
    reference = np.asarray(ref.sample, dtype=float)
    result = stats.ks_2samp(reference, current)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)))
    ref_hist = np.histogram(reference, edges)[0] / max(len(reference), 1)
    cur_hist = np.histogram(np.clip(current, edges[0], edges[-1]), edges)[0] / max(len(current), 1)
    return FeatureDrift(
        feature=name,
        test="ks",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        threshold=threshold,
        drifted=bool(result.pvalue < threshold),
        reference=_numeric_summary(reference) | {"psi": 0.0},
        current=_numeric_summary(current) | {"psi": round(psi(ref_hist, cur_hist), 6)},
    )


def chi2_test(
    name: str,
    reference: Mapping[str, float],
    values: Iterable[Any],
    threshold: float,
    test: str = "chi2",
) -> FeatureDrift:
    counts = Counter(str(v) for v in values if v is not None)
    categories = sorted(set(reference) | set(counts))
    observed = np.array([counts.get(c, 0) for c in categories], dtype=float)
    expected_share = np.array([reference.get(c, 0.0) + SMOOTHING for c in categories])
    expected_share /= expected_share.sum()
    result = stats.chisquare(observed, expected_share * observed.sum())
    total = max(observed.sum(), 1)
    return FeatureDrift(
        feature=name,
        test=test,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        threshold=threshold,
        drifted=bool(result.pvalue < threshold),
        reference=_top(reference),
        current=_top({c: n / total for c, n in counts.items()})
        | {"psi": round(psi(expected_share, observed / total), 6)},
    )


@dataclass
class _Window:
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


class WindowDetector:
    """Tumbling windows of live rows, tested feature by feature and on predictions."""

    def __init__(
        self, profile: ReferenceProfile, *, window_size: int, alpha: float, consecutive: int
    ) -> None:
        self.profile = profile
        self.window_size = window_size
        self.consecutive = consecutive
        self.threshold = alpha / max(len(profile.features), 1)  # Bonferroni
        self.alpha = alpha
        self._window = _Window()
        self._streak: dict[str, list[_Window]] = {"data": [], "prediction": []}
        self.last: dict[str, tuple[FeatureDrift, ...]] = {}

    @property
    def filling(self) -> int:
        return len(self._window.rows)

    def add(self, row: Mapping[str, Any], prediction: str, at: datetime) -> list[Finding]:
        w = self._window
        w.rows.append(row)
        w.predictions.append(prediction)
        w.start = w.start or at
        w.end = at
        if len(w.rows) < self.window_size:
            return []
        self._window = _Window()
        return self._judge(w)

    def test(self, w: _Window) -> dict[str, tuple[FeatureDrift, ...]]:
        evidence: list[FeatureDrift] = []
        for name, ref in self.profile.features.items():
            values = [r.get(name) for r in w.rows]
            if isinstance(ref, NumericProfile):
                evidence.append(ks_test(name, ref, values, self.threshold))
            elif isinstance(ref, CategoricalProfile):
                evidence.append(chi2_test(name, ref.frequencies, values, self.threshold))
        prediction = chi2_test("prediction", self.profile.predictions, w.predictions, self.alpha)
        return {"data": tuple(evidence), "prediction": (prediction,)}

    def _judge(self, w: _Window) -> list[Finding]:
        self.last = self.test(w)
        findings = []
        for kind, evidence in self.last.items():
            streak = self._streak[kind]
            if any(e.drifted for e in evidence):
                streak.append(w)
            else:
                streak.clear()
            if len(streak) >= self.consecutive:
                first = streak[0]
                assert first.start and w.end
                rows = sum(len(s.rows) for s in streak)
                findings.append(Finding(kind, first.start, w.end, rows, evidence))
        return findings


class PerformanceDetector:
    """Live accuracy over the most recent joined labels against the promoted accuracy."""

    def __init__(self, baseline: float, *, window: int, min_labels: int, max_drop: float) -> None:
        self.baseline = baseline
        self.min_labels = min_labels
        self.max_drop = max_drop
        self._outcomes: deque[tuple[bool, datetime]] = deque(maxlen=window)

    @property
    def labels(self) -> int:
        return len(self._outcomes)

    @property
    def accuracy(self) -> float | None:
        if not self._outcomes:
            return None
        return sum(ok for ok, _ in self._outcomes) / len(self._outcomes)

    def add(self, correct: bool, predicted_at: datetime) -> list[Finding]:
        self._outcomes.append((correct, predicted_at))
        accuracy = self.accuracy
        if self.labels < self.min_labels or accuracy is None:
            return []
        drop = self.baseline - accuracy
        if drop <= self.max_drop:
            return []
        outcomes = sorted(self._outcomes, key=lambda o: o[1])
        onset = change_point([ok for ok, _ in outcomes])
        evidence = FeatureDrift(
            feature="accuracy",
            test="accuracy_drop",
            statistic=round(drop, 6),
            p_value=None,
            threshold=self.max_drop,
            drifted=True,
            reference={"accuracy": round(self.baseline, 6)},
            current={"accuracy": round(accuracy, 6), "labels": self.labels},
        )
        start, end = outcomes[onset][1], outcomes[-1][1]
        return [Finding("performance", start, end, self.labels - onset, (evidence,))]


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
