"""Performance drift: the error stream of labelled predictions against the accuracy the model
was promoted with.

ADWIN (river) watches the 0/1 errors and flags an increase, which must also exceed the
promoted error rate by ``min_error_increase``; or the accuracy over the last ``window`` labels
falls ``max_drop`` below the promoted accuracy. The onset is placed at the most likely change
point of the recent errors. O(1) per label while nothing looks wrong.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from driftloop_contracts import FeatureDrift
from river.drift import ADWIN

from .onsets import change_point
from .windows import Finding, at

#: Live accuracy samples a watch remembers for the history endpoint (oldest dropped).
HISTORY_POINTS = 240

MIN_RECENT_LABELS = 50  # labels after a change point before its error rate is believed
RISE_Z = 3.5  # the rise is beyond chance, even for the best of many change points


@dataclass(frozen=True)
class PerformanceConfig:
    window: int = 300
    min_labels: int = 200
    max_drop: float = 0.1
    adwin_delta: float = 0.002
    min_error_increase: float = 0.05


class PerformanceDetector:
    """Live accuracy and the error stream of one watch."""

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
        self._outcomes: deque[tuple[bool, int]] = deque(maxlen=window)  # (correct, at ms)
        self._seen = 0
        self._hits = 0
        self._since_change: int | None = None  # labels since ADWIN last flagged a change
        self.adwin_error: float | None = None
        #: (epoch ms of the newest label, live accuracy, labels) after each observed batch,
        #: the last HISTORY_POINTS of them (a tuple: copies share it safely).
        self.history: tuple[tuple[int, float, int], ...] = ()

    @classmethod
    def of(cls, baseline: float, config: PerformanceConfig) -> PerformanceDetector:
        return cls(
            baseline,
            window=config.window,
            min_labels=config.min_labels,
            max_drop=config.max_drop,
            adwin_delta=config.adwin_delta,
            min_error_increase=config.min_error_increase,
        )

    def copy(self) -> PerformanceDetector:
        """An independent copy (ADWIN deep-copied: about 20 microseconds)."""
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._adwin = copy.deepcopy(self._adwin)
        other._outcomes = self._outcomes.copy()
        return other

    @property
    def labels(self) -> int:
        return len(self._outcomes)

    @property
    def accuracy(self) -> float | None:
        return self._hits / len(self._outcomes) if self._outcomes else None

    def observe(
        self,
        correct: Sequence[bool] | np.ndarray,
        at_ms: Sequence[int] | np.ndarray,
        *,
        judge: bool = True,
    ) -> list[Finding]:
        """Add outcomes in order; the first finding they lead to, if any (later outcomes of
        the batch are still counted). With `judge` False only count them (the kind fired)."""
        found: list[Finding] = []
        for ok, ms in zip(correct, at_ms, strict=True):
            suspicious = self._add(bool(ok), int(ms))
            if suspicious and judge and not found:
                found += self._judge()
        self._sample()
        return found

    def _sample(self) -> None:
        accuracy = self.accuracy
        if accuracy is None:
            return
        newest = max(ms for _, ms in self._outcomes)
        point = (newest, accuracy, len(self._outcomes))
        self.history = (*self.history[-(HISTORY_POINTS - 1) :], point)

    def _add(self, correct: bool, ms: int) -> bool:
        """Count one outcome; whether anything looks wrong enough to judge."""
        if len(self._outcomes) == self._outcomes.maxlen:
            self._hits -= self._outcomes[0][0]
        self._outcomes.append((correct, ms))
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
            return False
        return self._dropped(accuracy) or self._since_change is not None

    def _dropped(self, accuracy: float) -> bool:
        return self.baseline - accuracy > self.max_drop

    def _judge(self) -> list[Finding]:
        accuracy = self.accuracy
        assert accuracy is not None
        dropped = self._dropped(accuracy)
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
            effect=round(rise, 6),
            effect_name="error_increase",
            min_effect=self.min_error_increase,
        )
        start, end = at(outcomes[onset][1]), at(outcomes[-1][1])
        return [Finding("performance", start, end, len(recent), (evidence,))]
