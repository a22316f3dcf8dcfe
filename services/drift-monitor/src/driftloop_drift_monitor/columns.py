"""The columns of a prediction log as numpy arrays, typed by the reference profile.

Numeric features become float64 with NaN for a missing (or unreadable) value; categorical
features and predictions become object arrays of strings, None where missing. A feature the
profile knows and the event lacks is missing in every row; features the profile does not know
are not monitored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from driftloop_contracts import PredictionsLogged

Kind = Literal["numeric", "categorical"]


def numeric(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """float64, NaN where a value is missing or not a number."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.fromiter((_number(v) for v in values), dtype=np.float64, count=len(values))


def _number(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    return np.nan  # None, or a string in a numeric column: missing, not a crash


def categorical(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Object array of strings, None where missing."""
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else v if isinstance(v, str) else str(v) for v in values]
    return out


@dataclass(frozen=True)
class Columns:
    """Rows of live data, column by column, in arrival order."""

    features: Mapping[str, np.ndarray]
    predictions: np.ndarray
    at_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.at_ms)

    def rows(self, start: int, stop: int) -> Columns:
        return Columns(
            {name: column[start:stop] for name, column in self.features.items()},
            self.predictions[start:stop],
            self.at_ms[start:stop],
        )


def columns_of(
    features: Mapping[str, Sequence[Any]],
    predictions: Sequence[Any],
    at_ms: Sequence[int] | np.ndarray,
    kinds: Mapping[str, Kind],
    numeric_predictions: bool = False,
) -> Columns:
    """Columns for the features in `kinds` (the profile's), converted by kind; predictions
    as floats for a regression model (`numeric_predictions`), as class names otherwise."""
    n = len(at_ms)
    typed: dict[str, np.ndarray] = {}
    for name, kind in kinds.items():
        column = features.get(name)
        if column is None:
            typed[name] = np.full(n, np.nan) if kind == "numeric" else np.full(n, None, object)
        else:
            typed[name] = numeric(column) if kind == "numeric" else categorical(column)
    predicted = numeric(predictions) if numeric_predictions else categorical(predictions)
    return Columns(typed, predicted, np.asarray(at_ms, dtype=np.int64))


def event_columns(
    event: PredictionsLogged, kinds: Mapping[str, Kind], numeric_predictions: bool = False
) -> Columns:
    return columns_of(
        event.features, event.predictions, event.predicted_at_ms, kinds, numeric_predictions
    )
