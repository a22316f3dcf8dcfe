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
from scipy import stats

SMOOTHING = 1e-4  # share given to a category the reference never saw


@dataclass(frozen=True)
class Finding:
    kind: DriftKind
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
    name: str, ref: NumericProfile, values: Sequence[Any], threshold: float
) -> FeatureDrift:
    current = np.asarray([v for v in values if v is not None], dtype=float)
    reference = np.asarray(ref.sample, dtype=float)
    summary = _numeric_summary(reference) | {"missing_rate": round(ref.missing_rate, 6)}
    if current.size == 0:
        return _missing(name, "ks", threshold, summary)
    result = stats.ks_2samp(reference, current)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)))
    ref_hist = np.histogram(reference, edges)[0] / max(len(reference), 1)
    cur_hist = np.histogram(np.clip(current, edges[0], edges[-1]), edges)[0] / current.size
    return FeatureDrift(
        feature=name,
        test="ks",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        threshold=threshold,
        drifted=bool(result.pvalue < threshold),
        reference=summary,
        current=_numeric_summary(current)
        | {"missing_rate": round(1 - current.size / max(len(values), 1), 6)}
        | {"psi": round(psi(ref_hist, cur_hist), 6)},
    )


def chi2_test(
    name: str,
    reference: Mapping[str, float],
    reference_rows: int,
    values: Sequence[Any],
    threshold: float,
    test: str = "chi2",
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
    return FeatureDrift(
        feature=name,
        test=test,
        statistic=statistic,
        p_value=p_value,
        threshold=threshold,
        drifted=bool(p_value < threshold),
        reference=_top(reference),
        current=_top({c: n / observed_total for c, n in counts.items()})
        | {"psi": round(psi(shares, current / observed_total), 6)},
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
        self._streak: dict[DriftKind, list[_Window]] = {"data": [], "prediction": []}
        self.last: dict[DriftKind, tuple[FeatureDrift, ...]] = {}

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

    def test(self, w: _Window) -> dict[DriftKind, tuple[FeatureDrift, ...]]:
        evidence: list[FeatureDrift] = []
        for name, ref in self.profile.features.items():
            values = [r.get(name) for r in w.rows]
            if isinstance(ref, NumericProfile):
                evidence.append(ks_test(name, ref, values, self.threshold))
            elif isinstance(ref, CategoricalProfile):
                evidence.append(chi2_test(name, ref.frequencies, ref.rows, values, self.threshold))
        prediction = chi2_test(
            "prediction",
            self.profile.predictions,
            self.profile.prediction_rows,
            w.predictions,
            self.alpha,
        )
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
