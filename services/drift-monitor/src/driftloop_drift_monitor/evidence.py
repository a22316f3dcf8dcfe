"""One test of one column against its reference, as the evidence a drift event carries.

* numeric: two-sample Kolmogorov-Smirnov test, effect = Wasserstein distance / reference std;
* categorical (and predicted classes): two-sample chi-square on counts, effect =
  Jensen-Shannon distance;
* PSI is reported in the summaries, not used to decide.

A column drifts when its p-value is under the threshold *and* its effect is at least the
minimum (large windows find significant but irrelevant changes). What only depends on the
reference (its sample as an array, its summary, its deciles) is prepared once per watch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from driftloop_contracts import FeatureDrift, NumericProfile
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

SMOOTHING = 1e-4  # share given to a category the reference never saw
#: Values are clipped to this for the effect size, so two extremes (1e308, -1e308) give a huge
#: but finite distance instead of inf - inf = nan.
LIMIT = float(np.finfo(float).max) / 4


def _finite(x: float) -> float | None:
    """A summary number, None when the values overflow (1e308 and friends)."""
    return round(x, 6) if np.isfinite(x) else None


def numeric_summary(values: np.ndarray) -> dict[str, float | None]:
    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "mean": _finite(float(values.mean())),
            "std": _finite(float(values.std())),
            "p50": _finite(float(np.median(values))),
        }


def top(freqs: Mapping[str, float], n: int = 10) -> dict[str, float]:
    return {k: round(v, 6) for k, v in sorted(freqs.items(), key=lambda kv: -kv[1])[:n]}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(expected, SMOOTHING, None)
    a = np.clip(actual, SMOOTHING, None)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True, eq=False)
class NumericReference:
    """A numeric profile made ready for tests."""

    sample: np.ndarray
    scale: float
    summary: dict[str, Any]
    edges: np.ndarray  # deciles, for PSI
    shares: np.ndarray  # the sample's share per decile bin

    @classmethod
    def of(cls, profile: NumericProfile) -> NumericReference:
        sample = np.asarray(profile.sample, dtype=float)
        summary = numeric_summary(sample) | {"missing_rate": round(profile.missing_rate, 6)}
        edges = np.unique(np.quantile(sample, np.linspace(0, 1, 11)))
        shares = np.histogram(sample, edges)[0] / max(len(sample), 1)
        return cls(sample, float(sample.std()) or 1.0, summary, edges, shares)


def present(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """The numbers of a column, missing values left out."""
    array = np.asarray(values if isinstance(values, np.ndarray) else _floats(values), float)
    kept: np.ndarray = array[~np.isnan(array)]
    return kept


def _floats(values: Sequence[Any]) -> list[float]:
    return [np.nan if v is None else float(v) for v in values]


def missing(name: str, test: str, threshold: float, reference: dict[str, Any]) -> FeatureDrift:
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
    name: str,
    ref: NumericProfile | NumericReference,
    values: Sequence[Any] | np.ndarray,
    threshold: float,
    min_effect: float = 0.0,
) -> FeatureDrift:
    reference = ref if isinstance(ref, NumericReference) else NumericReference.of(ref)
    current = present(values)
    if current.size == 0:
        return missing(name, "ks", threshold, reference.summary)
    result = stats.ks_2samp(reference.sample, current)
    clipped = np.clip(current, -LIMIT, LIMIT)
    effect = float(stats.wasserstein_distance(reference.sample, clipped)) / reference.scale
    edges = reference.edges
    cur_hist = np.histogram(np.clip(current, edges[0], edges[-1]), edges)[0] / current.size
    p_value = float(result.pvalue)
    return FeatureDrift(
        feature=name,
        test="ks",
        statistic=float(result.statistic),
        p_value=p_value,
        threshold=threshold,
        drifted=bool(p_value < threshold and effect >= min_effect),
        reference=reference.summary,
        current=numeric_summary(current)
        | {"missing_rate": round(1 - current.size / max(len(values), 1), 6)}
        | {"psi": round(psi(reference.shares, cur_hist), 6)},
        effect=round(effect, 6),
        effect_name="wasserstein_normed",
        min_effect=min_effect,
    )


def _contingency(
    shares: np.ndarray, reference_rows: int, current: np.ndarray
) -> tuple[float, float]:
    """Two-sample chi-square of category counts: the reference is a sample too, so its size
    counts (a goodness-of-fit test against its shares would raise false alarms)."""
    if reference_rows > 0:
        table = np.vstack([shares * reference_rows, current])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 0.0, 1.0
        return independence(table)
    # reference size unknown: goodness of fit against its shares
    expected = (shares + SMOOTHING) / (shares + SMOOTHING).sum() * current.sum()
    fit = stats.chisquare(current, expected)
    if not np.isfinite(fit.pvalue):  # a single category: nothing to compare
        return 0.0, 1.0
    return float(fit.statistic), float(fit.pvalue)


def independence(table: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square test of independence of a 2 x k table of positive margins: what
    scipy.stats.chi2_contingency(table, correction=False) computes, without its per-call
    overhead (about 2 ms, a third of a window test)."""
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = (table.shape[0] - 1) * (table.shape[1] - 1)
    return statistic, float(special.chdtrc(dof, statistic))


def chi2_test(
    name: str,
    reference: Mapping[str, float],
    reference_rows: int,
    values: Sequence[Any] | np.ndarray,
    threshold: float,
    test: str = "chi2",
    min_effect: float = 0.0,
) -> FeatureDrift:
    counts = Counter(v if isinstance(v, str) else str(v) for v in values if v is not None)
    observed_total = sum(counts.values())
    if observed_total == 0:
        return missing(name, test, threshold, top(reference))
    categories = sorted(set(reference) | set(counts))
    current = np.array([counts.get(c, 0) for c in categories], dtype=float)
    shares = np.array([reference.get(c, 0.0) for c in categories])
    statistic, p_value = _contingency(shares, reference_rows, current)
    now = current / observed_total
    effect = float(jensenshannon(shares + SMOOTHING, now + SMOOTHING, base=2))
    return FeatureDrift(
        feature=name,
        test=test,
        statistic=statistic,
        p_value=p_value,
        threshold=threshold,
        drifted=bool(p_value < threshold and effect >= min_effect),
        reference=top(reference),
        current=top({c: n / observed_total for c, n in counts.items()})
        | {"psi": round(psi(shares, now), 6)},
        effect=round(effect, 6),
        effect_name="jensen_shannon",
        min_effect=min_effect,
    )
