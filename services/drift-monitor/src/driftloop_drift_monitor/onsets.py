"""Where inside a window (or a run of labels) a change most plausibly began, so a retrain starts
from the change and not from rows the window happened to hold before it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from driftloop_contracts import FeatureDrift


def shift_point(z: np.ndarray, min_segment: int = 20) -> int:
    """Where a series standardised against the reference (mean 0, sd 1 before the change)
    most plausibly left it: the k maximising the likelihood ratio of "rows k.. have shifted
    mean" over "no change", (sum of z[k:])^2 / (n - k). 0 when the whole window moved."""
    return _shift(z, min_segment)[0]


def _shift(z: np.ndarray, min_segment: int = 20) -> tuple[int, float]:
    n = len(z)
    if n <= min_segment:
        return 0, 0.0
    k = np.arange(0, n - min_segment + 1)
    with np.errstate(over="ignore", invalid="ignore"):  # extreme values: huge, not nan
        tail = np.cumsum(z[::-1])[::-1]  # tail[k] = z[k:].sum()
        score = np.nan_to_num(tail[k] ** 2 / (n - k), nan=0.0)
    best = int(np.argmax(score))
    return int(k[best]), float(score[best])


def change_point(correct: Sequence[bool] | np.ndarray, min_segment: int = 20) -> int:
    """Index where the error rate most plausibly changed: the split that maximises the
    difference in accuracy before and after it (weighted by segment sizes). 0 if none."""
    n = len(correct)
    if n < 2 * min_segment:
        return 0
    hits = np.cumsum(np.asarray(correct, dtype=float))
    k = np.arange(min_segment, n - min_segment + 1)
    before = hits[k - 1] / k
    after = (hits[-1] - hits[k - 1]) / (n - k)
    score = (before - after) * np.sqrt(k * (n - k) / n)
    best = int(np.argmax(score))  # the first of equal scores, as a scan would keep
    return int(k[best]) if score[best] > 0 else 0


def window_onset(evidence: Sequence[FeatureDrift], values: Mapping[str, np.ndarray]) -> int:
    """Where in the window the most drifted feature changed."""
    top = max((e for e in evidence if e.drifted), key=lambda e: e.effect or 0.0)
    series = values[top.feature]
    if top.test == "ks":
        mean = _number(top.reference.get("mean"), 0.0)
        std = _number(top.reference.get("std"), 1.0) or 1.0
        x = np.asarray(series, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.nan_to_num((np.where(np.isnan(x), mean, x) - mean) / std)
            spread = np.nan_to_num((z**2 - 1) / np.sqrt(2))
        # the feature's mean moved, or its spread: take the better explained of the two
        return max(_shift(z), _shift(spread), key=lambda ks: ks[1])[0]
    shares = {str(k): float(v) for k, v in top.current.items() if k != "psi"}
    moved = max(shares, key=lambda c: abs(shares[c] - float(top.reference.get(c, 0.0))))
    p0 = min(max(float(top.reference.get(moved, 0.0)), 1e-3), 1 - 1e-3)
    hits = np.asarray([v == moved for v in series], dtype=float)
    return shift_point((hits - p0) / np.sqrt(p0 * (1 - p0)))


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
