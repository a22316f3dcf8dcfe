"""Performance drift of a regression model: its absolute errors against the training holdout's.

Each labelled prediction is "within tolerance" when its absolute error is at most the
holdout's 80th percentile (`TOLERANCE_QUANTILE`), so on data like the holdout about 80% are:
that share is the baseline. From there the error stream is watched exactly as a classifier's
right/wrong stream is (performance.py: ADWIN, the change point, the rise beyond chance, the
window drop), so a regression model gets the same few false alarms. Evidence speaks of errors:
the reference MAE and tolerance, and the MAE of the rows after the change.

The onset is placed on the errors themselves (where their mean left the holdout's), and rounded
to a whole request: the rows of one request share their prediction time, so an onset inside a
request would make the retrain start at that request's time, taking all its rows. A retrain on
rows of the old relation fits neither; one request of new rows left out only delays it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
from driftloop_contracts import PredictionsLabelled

from .columns import numeric
from .onsets import shift_point
from .performance import PerformanceConfig, PerformanceDetector
from .windows import Finding, at

TOLERANCE_QUANTILE = 0.8


def absolute_errors(event: PredictionsLabelled) -> tuple[np.ndarray, np.ndarray]:
    """|prediction - label| of each row that has two numbers, and when it was predicted."""
    errors = np.abs(numeric(event.predictions) - numeric(event.labels))
    finite = np.isfinite(errors)
    return errors[finite], np.asarray(event.predicted_at_ms, dtype=np.int64)[finite]


class ErrorDetector(PerformanceDetector):
    """Live errors of one regression watch against its holdout's errors."""

    def __init__(self, reference_errors: Sequence[float], config: PerformanceConfig) -> None:
        reference = np.asarray(reference_errors, dtype=float)
        self.tolerance = float(np.quantile(reference, TOLERANCE_QUANTILE))
        self.reference_mae = float(reference.mean())
        self._reference_sd = float(reference.std()) or 1.0
        super().__init__(
            float(np.mean(reference <= self.tolerance)),
            window=config.window,
            min_labels=config.min_labels,
            max_drop=config.max_drop,
            adwin_delta=config.adwin_delta,
            min_error_increase=config.min_error_increase,
        )
        self._errors: deque[tuple[float, int]] = deque(maxlen=config.window)  # (error, at ms)

    def copy(self) -> ErrorDetector:
        other = super().copy()
        assert isinstance(other, ErrorDetector)
        other._errors = self._errors.copy()
        return other

    @property
    def mae(self) -> float | None:
        """MAE over the live window."""
        return float(np.mean([e for e, _ in self._errors])) if self._errors else None

    def observe_errors(
        self, errors: np.ndarray, at_ms: np.ndarray, *, judge: bool = True
    ) -> list[Finding]:
        """Add absolute errors in order; the first finding, told in errors."""
        self._errors.extend(zip(errors.tolist(), np.asarray(at_ms).tolist(), strict=True))
        findings = self.observe(errors <= self.tolerance, at_ms, judge=judge)
        return [self._in_errors(f) for f in findings]

    def onset(self) -> int:
        """Index (in time order) of the first row after the change, rounded to a request."""
        ordered = sorted(self._errors, key=lambda pair: pair[1])
        errors = np.array([e for e, _ in ordered])
        times = np.array([ms for _, ms in ordered])
        k = shift_point((errors - self.reference_mae) / self._reference_sd)
        first = int(np.searchsorted(times, times[k], side="left"))
        after = int(np.searchsorted(times, times[k], side="right"))
        if after < len(times) and k - first > (after - first) / 2:
            return after  # most of that request came before the change
        return first

    def _in_errors(self, finding: Finding) -> Finding:
        ordered = sorted(self._errors, key=lambda pair: pair[1])
        onset = self.onset()
        recent = np.array([e for e, _ in ordered[onset:]])
        (e,) = finding.evidence
        evidence = e.model_copy(
            update={
                "feature": "absolute_error",
                "reference": {
                    "mae": round(self.reference_mae, 6),
                    "tolerance": round(self.tolerance, 6),
                    "within_tolerance": round(self.baseline, 6),
                },
                "current": {
                    "mae": round(float(np.mean(recent)), 6),
                    "within_tolerance": round(
                        float(np.mean(np.array(recent) <= self.tolerance)), 6
                    ),
                    "labels": len(recent),
                    "window_mae": round(self.mae or 0.0, 6),
                },
            }
        )
        start = at(ordered[onset][1])
        return Finding(finding.kind, start, finding.end, len(recent), (evidence,))
