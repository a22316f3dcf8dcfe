"""Validation against a DatasetSchema, a column at a time.

The fast path proves whole columns valid with a few scans that run in C (value types, numpy
bounds). The rows it cannot prove valid go to the row-by-row validator
(``driftloop_contracts.rows``), which coerces what it can (numbers sent as text, integer
categories) and words the reason for what it cannot, so every rejection reads as it always did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from driftloop_contracts import DatasetSchema, FeatureSpec, FeatureValue, RejectedRow, utcnow
from driftloop_contracts.datasets import LabelledRow
from driftloop_contracts.rows import RowError, validate_features, validate_label

from .candidates import Candidates, rejected_row

_NUMBERS = frozenset({float, int})
Mask = npt.NDArray[np.bool_]  # one flag per row: the fast path could not prove it valid


@dataclass(frozen=True)
class ValidRows:
    """Rows that fit the schema, as columns of clean values (every feature of the schema)."""

    schema: DatasetSchema
    columns: dict[str, list[FeatureValue]]
    labels: list[str]
    observed_at: list[datetime]

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self) -> list[LabelledRow]:
        names = self.schema.feature_names
        values = zip(*(self.columns[n] for n in names), strict=True) if names else ()
        return [
            LabelledRow(dict(zip(names, v, strict=True)), label, at)
            for v, label, at in zip(values, self.labels, self.observed_at, strict=True)
        ]

    @classmethod
    def of_rows(cls, schema: DatasetSchema, rows: Sequence[LabelledRow]) -> ValidRows:
        """Rows already validated, as columns."""
        return cls(
            schema,
            {n: [r.features.get(n) for r in rows] for n in schema.feature_names},
            [r.label for r in rows],
            [r.observed_at for r in rows],
        )

    @classmethod
    def concat(cls, schema: DatasetSchema, parts: Sequence[ValidRows]) -> ValidRows:
        def joined(columns: Iterable[list[Any]]) -> list[Any]:
            return list(chain.from_iterable(columns))

        return cls(
            schema,
            {n: joined(p.columns[n] for p in parts) for n in schema.feature_names},
            joined(p.labels for p in parts),
            joined(p.observed_at for p in parts),
        )


@dataclass(frozen=True)
class TimeWindow:
    """How far from now a row's observed_at may be: a year-9999 row would always be the
    newest (the holdout), one from year 1 always the oldest."""

    future: timedelta = timedelta(days=1)
    past: timedelta = timedelta(days=3650)

    def errors(self, observed: Sequence[datetime | None], now: datetime) -> dict[int, str]:
        """The reason of each row observed outside the window, by index."""
        latest, earliest = now + self.future, now - self.past
        return {
            i: f"observed_at {at.isoformat()} is more than {_span(self.future)} after now"
            if at > latest
            else f"observed_at {at.isoformat()} is more than {_span(self.past)} before now"
            for i, at in enumerate(observed)
            if at is not None and at.tzinfo is not None and not earliest <= at <= latest
        }


DEFAULT_WINDOW = TimeWindow()


def _span(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g} day(s)" if days >= 1 else f"{delta.total_seconds():g} s"


def validate(
    schema: DatasetSchema,
    candidates: Candidates,
    now: datetime | None = None,
    window: TimeWindow = DEFAULT_WINDOW,
) -> tuple[ValidRows, list[RejectedRow]]:
    """The valid rows (coerced to the schema's types) and a reason for each rejected one."""
    now = now or utcnow()
    candidates = _out_of_window(candidates, window, now)
    n = len(candidates)
    suspect: Mask = np.zeros(n, dtype=bool)
    rows = _feature_tuples(schema, candidates.features, suspect)
    columns = list(zip(*rows, strict=True)) if n else [() for _ in schema.features]
    clean = {
        spec.name: _column(spec, column, suspect)
        for spec, column in zip(schema.features, columns, strict=True)
    }
    labels = _labels(schema, candidates.labels, suspect)
    observed = [now if at is None else at for at in candidates.observed_at]
    valid = ValidRows(schema, clean, labels, observed)
    rejected = _second_look(schema, candidates, valid, np.flatnonzero(suspect).tolist())
    return _without(valid, {r.index for r in rejected}), rejected


def _out_of_window(candidates: Candidates, window: TimeWindow, now: datetime) -> Candidates:
    """The candidates with rows observed too far from now marked unreadable, with the reason."""
    late = window.errors(candidates.observed_at, now)
    if not late:
        return candidates
    errors = list(candidates.errors or [None] * len(candidates))
    for i, reason in late.items():
        errors[i] = errors[i] or reason
    return replace(candidates, errors=errors)


def _feature_tuples(
    schema: DatasetSchema, features: Sequence[Any], suspect: Mask
) -> list[tuple[Any, ...]]:
    """Each row's values in schema order, a missing feature that has a default (added by a
    schema evolution) as its default; other rows that are not a dict of exactly the schema's
    features get blanks and are left to the row-by-row validator."""
    names = schema.feature_names
    defaults = {f.name: f.default for f in schema.features if f.default is not None}
    width = len(names)
    get = itemgetter(*names) if width > 1 else (lambda row: (row[names[0]],))
    if set(map(type, features)) <= {dict} and set(map(len, features)) <= {width}:
        try:
            return list(map(get, features))
        except KeyError:
            pass  # a row misses a feature: find it below
    elif defaults and (older := _older_rows(names, defaults, features)) is not None:
        return older
    blank = (None,) * width
    out: list[tuple[Any, ...]] = []
    for i, row in enumerate(features):
        if type(row) is dict and len(row) == width:
            try:
                out.append(get(row))
                continue
            except KeyError:
                pass
        elif defaults and type(row) is dict and (values := _defaulted(names, defaults, row)):
            out.append(values)
            continue
        suspect[i] = True
        out.append(blank)
    return out


def _older_rows(
    names: tuple[str, ...], defaults: dict[str, Any], features: Sequence[Any]
) -> list[tuple[Any, ...]] | None:
    """A whole batch written for an earlier schema version: every row a dict of the same
    leading features, the ones evolutions appended (all with defaults) absent."""
    first = features[0] if features else None
    if type(first) is not dict or len(first) < 2:
        return None
    present = names[: len(first)]
    tail = names[len(first) :]
    if not tail or not all(n in defaults for n in tail):
        return None
    if not set(map(type, features)) <= {dict} or set(map(len, features)) != {len(present)}:
        return None
    try:
        values: list[tuple[Any, ...]] = list(map(itemgetter(*present), features))
    except KeyError:
        return None  # not the leading features: row by row
    filled = tuple(defaults[n] for n in tail)
    return [v + filled for v in values]


def _defaulted(
    names: tuple[str, ...], defaults: dict[str, Any], row: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The row's values with defaults for the features it lacks, if it has no unknown feature
    and lacks only features that have a default."""
    if len(row) > len(names) or not all(k in names for k in row):
        return None
    try:
        return tuple(row[n] if n in row else defaults[n] for n in names)
    except KeyError:
        return None


def _column(spec: FeatureSpec, values: Sequence[Any], suspect: Mask) -> list[FeatureValue]:
    if spec.kind == "numeric":
        return _numeric(spec, values, suspect)
    types = set(map(type, values))
    if not types <= {str} or "" in values:
        for i, v in enumerate(values):
            if type(v) is not str or v == "":
                suspect[i] = True
    return list(values)


def _numeric(spec: FeatureSpec, values: Sequence[Any], suspect: Mask) -> list[FeatureValue]:
    """Floats; values that are not numbers, not finite or out of bounds are suspects."""
    types = set(map(type, values))
    numbers: npt.NDArray[np.float64] | None = None
    try:
        if types <= _NUMBERS:
            numbers = np.array(values, dtype=np.float64)
        elif types <= _NUMBERS | {str}:  # CSV: text Python's float() reads, as the row path
            numbers = np.array(list(map(float, values)), dtype=np.float64)
    except (OverflowError, ValueError):
        numbers = None
    if numbers is None:
        numbers = np.array([_as_float(v) for v in values], dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if spec.minimum is not None:
        bad |= numbers < spec.minimum
    if spec.maximum is not None:
        bad |= numbers > spec.maximum
    suspect |= bad
    out: list[FeatureValue] = numbers.tolist()
    return out


def _as_float(value: Any) -> float:
    """A number as a float; anything else (and overflowing integers) as NaN, a suspect."""
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return math.nan
    return math.nan


def _labels(schema: DatasetSchema, labels: Sequence[Any], suspect: Mask) -> list[str]:
    if schema.target.is_regression:
        return _numeric_labels(labels, suspect)
    classes = frozenset(schema.target.classes)
    try:
        known = set(labels) <= classes and set(map(type, labels)) <= {str}
    except TypeError:  # an unhashable label (a list, an object)
        known = False
    if not known:
        for i, label in enumerate(labels):
            if type(label) is not str or label not in classes:
                suspect[i] = True
    return list(labels)


def _numeric_labels(labels: Sequence[Any], suspect: Mask) -> list[str]:
    """Regression labels as the canonical text of their float (``repr``, as the row path
    gives); labels that are not finite numbers are suspects, worded by the row path."""
    types = set(map(type, labels))
    numbers: npt.NDArray[np.float64] | None = None
    try:
        if types <= _NUMBERS:
            numbers = np.array(labels, dtype=np.float64)
        elif types <= _NUMBERS | {str}:  # CSV and feedback labels: numbers as text
            numbers = np.array(list(map(float, labels)), dtype=np.float64)
    except (OverflowError, ValueError):
        numbers = None
    if numbers is None:
        numbers = np.array([_label_float(v) for v in labels], dtype=np.float64)
    suspect |= ~np.isfinite(numbers)
    return list(map(repr, numbers.tolist()))


def _label_float(value: Any) -> float:
    """A label as a float; what is not a number (bools included) as NaN, a suspect."""
    if type(value) is str:
        try:
            return float(value)
        except ValueError:
            return math.nan
    return _as_float(value)


def _second_look(
    schema: DatasetSchema, candidates: Candidates, valid: ValidRows, suspects: list[int]
) -> list[RejectedRow]:
    """Rows that could not be read are rejected; suspects go through the row-by-row validator,
    which either cleans them (into `valid`) or says what is wrong."""
    rejected: list[RejectedRow] = []
    errors = candidates.errors or ()
    unread = [i for i, e in enumerate(errors) if e]
    for i in sorted({*unread, *suspects}):
        features, label = candidates.features[i], candidates.labels[i]
        reason = errors[i] if i < len(errors) else None
        if not reason:
            try:
                row = validate_features(schema, features)
                valid.labels[i] = validate_label(schema, label)
            except RowError as exc:
                reason = str(exc)
            else:
                for name, value in row.items():
                    valid.columns[name][i] = value
                continue
        rejected.append(rejected_row(i, features, label, reason))
    return rejected


def _without(valid: ValidRows, drop: set[int]) -> ValidRows:
    if not drop:
        return valid
    keep = [i for i in range(len(valid)) if i not in drop]

    def pick(values: list[Any]) -> list[Any]:
        return [values[i] for i in keep]

    columns = {name: pick(values) for name, values in valid.columns.items()}
    return ValidRows(valid.schema, columns, pick(valid.labels), pick(valid.observed_at))
