"""Performance drift of a regression model: its absolute errors against the training holdout's.

Each labelled prediction is "within tolerance" when its absolute error is at most the
holdout's 80th percentile (`TOLERANCE_QUANTILE`), so on data like the holdout about 80% are:
that share is the baseline. From there the error stream is watched exactly as a classifier's
right/wrong stream is (performance.py: ADWIN, the change point, the rise beyond chance, the
window drop), so a regression model gets the same few false alarms. Evidence speaks of errors:
the reference MAE and tolerance, and the MAE of the rows after the change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
from driftloop_contracts import PredictionsLabelled

from .columns import numeric
from .performance import PerformanceConfig, PerformanceDetector
from .windows import Finding

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
        super().__init__(
            float(np.mean(reference <= self.tolerance)),
            window=config.window,
            min_labels=config.min_labels,
            max_drop=config.max_drop,
            adwin_delta=config.adwin_delta,
            min_error_increase=config.min_error_increase,
        )
        self._errors: deque[float] = deque(maxlen=config.window)

    def copy(self) -> ErrorDetector:
        other = super().copy()
        assert isinstance(other, ErrorDetector)
        other._errors = self._errors.copy()
        return other

    @property
    def mae(self) -> float | None:
        """MAE over the live window."""
        return float(np.mean(self._errors)) if self._errors else None

    def observe_errors(
        self, errors: np.ndarray, at_ms: np.ndarray, *, judge: bool = True
    ) -> list[Finding]:
        """Add absolute errors in order; the first finding, told in errors."""
        self._errors.extend(errors.tolist())
        findings = self.observe(errors <= self.tolerance, at_ms, judge=judge)
        return [self._in_errors(f) for f in findings]

    def _in_errors(self, finding: Finding) -> Finding:
        recent = list(self._errors)[-finding.rows :]
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
                    "within_tolerance": e.current["accuracy"],
                    "labels": e.current["labels"],
                    "window_mae": round(self.mae or 0.0, 6),
                },
            }
        )
        return Finding(finding.kind, finding.start, finding.end, finding.rows, (evidence,))
