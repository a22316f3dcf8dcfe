"""Sliding windows of live rows against the reference profile: data and prediction drift.

Each feature, the predictions and the times live in ring buffers of the window's size, filled
straight from a prediction log's columns; a test reads the buffers as arrays. A window of
``window_size`` rows is tested every ``window_step`` rows, per feature and on the predicted
classes (see evidence.py); a regression model's predicted values are tested like a numeric
feature against the profile's ``predicted_values``. False alarms across features are controlled
with Bonferroni, across windows by asking for strong evidence once (``alpha_strict``) or
moderate evidence in ``consecutive`` windows in a row (``alpha``). The prediction test is not
split over features.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from driftloop_contracts import (
    CategoricalProfile,
    DriftKind,
    FeatureDrift,
    NumericProfile,
    ReferenceProfile,
)

from .columns import Columns, Kind
from .evidence import NumericReference, chi2_test, ks_test
from .onsets import window_onset
from .ring import Ring


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
    current: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)


#: Tested windows a watch remembers for GET /v1/drift/{dataset}/history (oldest dropped).
HISTORY_WINDOWS = 120


@dataclass(frozen=True)
class WindowRecord:
    """One tested window, as the history endpoint shows it."""

    window: int
    end: datetime
    evidence: Mapping[DriftKind, tuple[FeatureDrift, ...]]


@dataclass(frozen=True)
class _Streak:
    start: datetime | None = None
    windows: int = 0


def at(ms: int | np.integer[Any]) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def kinds_of(profile: ReferenceProfile) -> dict[str, Kind]:
    return {name: ref.kind for name, ref in profile.features.items()}


class WindowDetector:
    """The live window of one watch; `observe` appends rows and tests when a window is due."""

    def __init__(self, profile: ReferenceProfile, config: DriftConfig) -> None:
        self.profile = profile
        self.config = config
        self.kinds = kinds_of(profile)
        self._numeric = {
            name: NumericReference.of(ref)
            for name, ref in profile.features.items()
            if isinstance(ref, NumericProfile)
        }
        features = max(len(profile.features), 1)
        self.threshold = config.alpha / features  # Bonferroni over features
        self.strict = config.alpha_strict / features
        size = config.window_size
        self._features = {
            name: Ring(size, np.float64 if kind == "numeric" else object)
            for name, kind in self.kinds.items()
        }
        #: Regression: predicted numbers, tested like a numeric feature.
        self._predicted = (
            NumericReference.of(profile.predicted_values)
            if profile.predicted_values is not None
            else None
        )
        self._predictions = Ring(size, object if self._predicted is None else np.float64)
        self._at = Ring(size, np.int64)
        self._since_test = 0
        self._streaks: dict[DriftKind, _Streak] = {"data": _Streak(), "prediction": _Streak()}
        self.last: dict[DriftKind, tuple[FeatureDrift, ...]] = {}
        self.windows_tested = 0
        #: The last HISTORY_WINDOWS tested windows (a tuple: copies share it safely).
        self.history: tuple[WindowRecord, ...] = ()

    def copy(self) -> WindowDetector:
        """An independent copy (the profile and prepared references are shared, read-only)."""
        other = WindowDetector.__new__(WindowDetector)
        other.__dict__.update(self.__dict__)
        other._features = {name: ring.copy() for name, ring in self._features.items()}
        other._predictions = self._predictions.copy()
        other._at = self._at.copy()
        other._streaks = dict(self._streaks)
        other.last = dict(self.last)
        return other

    @property
    def numeric_predictions(self) -> bool:
        return self._predicted is not None

    @property
    def window_size(self) -> int:
        return self.config.window_size

    @property
    def filling(self) -> int:
        return len(self._at)

    def observe(self, columns: Columns) -> list[Finding]:
        """Append rows in order; test each window that becomes due on the way."""
        findings: list[Finding] = []
        done, n = 0, len(columns)
        while done < n:
            due = max(self.window_size - self.filling, self.config.step - self._since_test)
            take = min(due, n - done)
            self._append(columns.rows(done, done + take))
            self._since_test += take
            done += take
            if take == due:
                self._since_test = 0
                findings += self._judge()
        return findings

    def _append(self, columns: Columns) -> None:
        for name, ring in self._features.items():
            ring.extend(columns.features[name])
        self._predictions.extend(columns.predictions)
        self._at.extend(columns.at_ms)

    def values(self) -> dict[str, np.ndarray]:
        """The window as arrays: one per feature, and "prediction"."""
        values = {name: ring.view() for name, ring in self._features.items()}
        values["prediction"] = self._predictions.view()
        return values

    def test(
        self, values: Mapping[str, np.ndarray], threshold: float
    ) -> dict[DriftKind, tuple[FeatureDrift, ...]]:
        c = self.config
        evidence: list[FeatureDrift] = []
        for name, ref in self.profile.features.items():
            if isinstance(ref, NumericProfile):
                numeric = self._numeric[name]
                evidence.append(
                    ks_test(name, numeric, values[name], threshold, c.min_effect_numeric)
                )
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
        return {"data": tuple(evidence), "prediction": (self._prediction_test(values, threshold),)}

    def _prediction_test(self, values: Mapping[str, np.ndarray], threshold: float) -> FeatureDrift:
        """The predictions against the reference's, not split over features."""
        c, level = self.config, threshold * len(self.profile.features)
        if self._predicted is not None:
            return ks_test(
                "prediction", self._predicted, values["prediction"], level, c.min_effect_numeric
            )
        return chi2_test(
            "prediction",
            self.profile.predictions,
            self.profile.prediction_rows,
            values["prediction"],
            level,
            min_effect=c.min_effect_categorical,
        )

    def _judge(self) -> list[Finding]:
        """Test the current window; a kind drifts on strong evidence in this window, or on
        moderate evidence in `consecutive` windows in a row."""
        self.windows_tested += 1
        values = self.values()
        times = self._at.view()
        self.last = self.test(values, self.threshold)
        record = WindowRecord(self.windows_tested, at(times[-1]), dict(self.last))
        self.history = (*self.history[-(HISTORY_WINDOWS - 1) :], record)
        findings = []
        for kind, evidence in self.last.items():
            finding = self._decide(kind, evidence, values, times)
            if finding is not None:
                findings.append(finding)
        return findings

    def _decide(
        self,
        kind: DriftKind,
        evidence: tuple[FeatureDrift, ...],
        values: Mapping[str, np.ndarray],
        times: np.ndarray,
    ) -> Finding | None:
        flagged = [e for e in evidence if e.drifted]
        if not flagged:
            self._streaks[kind] = _Streak()
            return None
        previous = self._streaks[kind]
        streak = _Streak(previous.start or at(times[0]), previous.windows + 1)
        self._streaks[kind] = streak
        c = self.config
        end = at(times[-1])
        if streak.windows >= c.consecutive:
            span = c.window_size + (streak.windows - 1) * c.step
            return Finding(kind, streak.start or end, end, span, evidence, values)
        strict = self.strict if kind == "data" else c.alpha_strict
        strong = {e.feature for e in flagged if e.p_value is not None and e.p_value < strict}
        if not strong:
            return None
        decided = tuple(
            e.model_copy(update={"threshold": strict, "drifted": e.feature in strong})
            for e in evidence
        )
        onset = window_onset(decided, values)
        return Finding(kind, at(times[onset]), end, len(times) - onset, decided, values)

    def streak(self, kind: DriftKind) -> int:
        """Windows in a row with moderate evidence of `kind` so far."""
        return self._streaks[kind].windows
