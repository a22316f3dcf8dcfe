"""Batches as one array per feature, validated column by column without a dict per row.

A request may send ``{"columns": {"age": [..], "plan": [..]}}`` beside ``{"rows": [...]}``,
and OIP v2 tensors arrive as columns anyway. Each column is checked with numpy at once (types,
finiteness, ranges, missing values) and goes into the model's matrix as it is. Only the rows
found bad are turned into dicts, for the row validator to word the 422: the reasons, the
indices and the message are the same whichever shape the request had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np
from driftloop_contracts import DatasetSchema, FeatureSpec
from driftloop_contracts.rows import RowError, validate_features
from driftloop_core import InvalidInput

_NUMBERS = {float, int}


class Columns(Sequence[Mapping[str, Any]]):
    """A batch of ``rows`` rows as one list or 1-D numpy array per feature name.

    It is a Sequence of rows only so that it goes wherever rows go; a row is built only when
    something indexes it (the error path), never on the way to the model. Columns read by a
    fast reader that only knows numbers (plainnumbers) carry `exact`: the same columns as the
    body sent them, for every decision the float arrays cannot make alike."""

    __slots__ = ("by_feature", "data", "exact", "rows")

    def __init__(
        self,
        data: Mapping[str, Any],
        rows: int,
        exact: Callable[[], Columns] | None = None,
        by_feature: np.ndarray | None = None,
    ) -> None:
        self.data = data
        self.rows = rows
        self.exact = exact
        #: The same values as one float array, a row per column in the order of `data`.
        self.by_feature = by_feature

    def __len__(self) -> int:
        return self.rows

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.rows))]
        return {name: _python(column[index]) for name, column in self.data.items()}

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return (self[i] for i in range(self.rows))


def columns_from(value: Any) -> Columns:
    """The ``columns`` of a request body, or InvalidInput saying what shape was expected."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput('columns must be an object of feature name to values: {"age": [..]}')
    lengths: dict[str, int] = {}
    for name, column in value.items():
        if not isinstance(column, list):
            raise InvalidInput(f"column {name!r} must be a list of values, one per row")
        lengths[name] = len(column)
    if len(set(lengths.values())) != 1:
        raise InvalidInput(f"every column must hold the same number of rows: {lengths}")
    rows = next(iter(lengths.values()))
    if rows == 0:
        raise InvalidInput("columns must hold at least one row")
    return Columns(value, rows)


class ColumnEncoder:
    """Columns to the matrix the model takes, checked against one schema."""

    def __init__(self, schema: DatasetSchema) -> None:
        self.schema = schema
        self.names = schema.feature_names
        self.numeric = all(f.kind == "numeric" for f in schema.features)
        self._low = np.array([_bound(f.minimum, -np.inf) for f in schema.features])
        self._high = np.array([_bound(f.maximum, np.inf) for f in schema.features])
        self._bounded = bool(np.isfinite(self._low).any() or np.isfinite(self._high).any())

    def encode(self, batch: Columns) -> tuple[np.ndarray, np.ndarray]:
        """The model's input and the features to log (the same matrix); InvalidInput naming
        every bad row, as the row validator words it."""
        data = self._checked(batch)
        if self.numeric:
            fast = self._all_numeric(data, batch.by_feature)
            if fast is not None:
                return fast, fast
        if batch.exact is not None:  # decided on the values as sent, in their JSON types
            return self.encode(batch.exact())
        x = np.empty((batch.rows, len(self.names)), dtype=object)
        bad = np.zeros(batch.rows, dtype=bool)
        for j, spec in enumerate(self.schema.features):
            column = data.get(spec.name)
            if spec.kind == "numeric":
                values, wrong = _numbers(spec, column, batch.rows)
            else:
                values, wrong = _categories(spec, column, batch.rows)
            x[:, j] = values
            bad |= wrong
        if bad.any():
            raise self._refusal(batch, np.flatnonzero(bad))
        if self.numeric:
            x = x.astype(np.float64)
        return x, x

    def _checked(self, batch: Columns) -> Mapping[str, Any]:
        names = self.names
        unknown = [n for n in batch.data if n not in names]
        if unknown:
            raise InvalidInput(f"unknown column(s) {sorted(unknown)}; the schema has {list(names)}")
        return batch.data

    def _all_numeric(
        self, data: Mapping[str, Any], stacked: np.ndarray | None = None
    ) -> np.ndarray | None:
        """One float matrix when every column is plainly numbers in range; None otherwise.

        numpy's own conversion is the type check: text that is not a number fails it, a null
        becomes NaN and fails the finiteness check (both then go cell by cell), a numeric
        string is the number it spells, as the row validator has it. Only a boolean passes
        as 1.0 or 0.0: the types of a column holding those values are looked at. `stacked`:
        the columns already read as one float array (plainnumbers), a row per column."""
        try:
            columns = [data[n] for n in self.names]
        except KeyError:
            return None
        if stacked is not None and len(data) == len(self.names):  # the sent columns, read as floats
            sent = tuple(data)
            order = None if sent == self.names else [sent.index(n) for n in self.names]
            matrix = (stacked if order is None else stacked[order]).T
        elif all(isinstance(c, np.ndarray) for c in columns):
            if not all(c.dtype.kind in "iuf" for c in columns):
                return None
            matrix = np.column_stack(columns).astype(np.float64, copy=False)
        elif all(isinstance(c, list) for c in columns):
            try:
                by_feature = np.array(columns, dtype=np.float64)
            except (OverflowError, ValueError, TypeError):
                return None  # not a number, or too large for a float: cell by cell
            zero_or_one = ((by_feature == 0.0) | (by_feature == 1.0)).any(axis=1)
            for j in np.flatnonzero(zero_or_one).tolist():
                if not set(map(type, columns[j])) <= _NUMBERS:
                    return None  # a boolean (or text): cell by cell
            matrix = by_feature.T
        else:
            return None
        if not np.isfinite(matrix).all():
            return None
        if self._bounded and not ((matrix >= self._low).all() and (matrix <= self._high).all()):
            return None
        return matrix

    def _refusal(self, batch: Columns, bad: np.ndarray) -> InvalidInput:
        problems: list[dict[str, Any]] = []
        for index in bad.tolist():
            try:
                validate_features(self.schema, batch[index])
            except RowError as exc:
                problems.append({"row": index, "error": str(exc)})
        if not problems:  # the checks above and the validator disagree: say where
            problems = [{"row": int(bad[0]), "error": "invalid value"}]
        first = problems[0]
        return InvalidInput(
            f"{len(problems)} of {batch.rows} row(s) invalid; row {first['row']}: {first['error']}",
            details=problems,
        )


def _numbers(spec: FeatureSpec, column: Any, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The column as floats (NaN where missing) and which rows are wrong."""
    if column is None:
        missing = np.ones(rows, dtype=bool)
        return np.full(rows, np.nan), missing & (not spec.nullable)
    values, broken, missing = _as_floats(column)
    present = ~missing
    wrong = broken | (missing & (not spec.nullable))
    with np.errstate(invalid="ignore"):
        wrong |= present & ~np.isfinite(values)
        if spec.minimum is not None:
            wrong |= present & (values < spec.minimum)
        if spec.maximum is not None:
            wrong |= present & (values > spec.maximum)
    return values, wrong


def _as_floats(column: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values, unconvertible, missing: a vectorised pass for plain numbers, a cell by cell
    one (numeric strings, nulls, booleans) otherwise."""
    rows = len(column)
    clean = np.zeros(rows, dtype=bool)
    if isinstance(column, np.ndarray) and column.dtype.kind in "iuf":
        return column.astype(np.float64), clean, clean
    if isinstance(column, list) and set(map(type, column)) <= _NUMBERS:
        try:
            return np.array(column, dtype=np.float64), clean, clean
        except OverflowError:
            pass
    values = np.full(rows, np.nan)
    broken, missing = clean.copy(), clean.copy()
    for i, cell in enumerate(column.tolist() if isinstance(column, np.ndarray) else column):
        if cell is None or cell == "":
            missing[i] = True
        elif isinstance(cell, bool) or not isinstance(cell, int | float | str):
            broken[i] = True
        else:
            try:
                values[i] = float(cell)
            except ValueError:
                broken[i] = True
            except OverflowError:
                values[i] = np.inf
    return values, broken, missing


def _categories(spec: FeatureSpec, column: Any, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The column as an object array of strings (NaN where missing) and which rows are wrong."""
    if column is None:
        return np.full(rows, np.nan, dtype=object), np.full(rows, not spec.nullable)
    cells = column.tolist() if isinstance(column, np.ndarray) else column
    if set(map(type, cells)) == {str}:
        values = np.array(cells, dtype=object)
        missing = values == ""
        broken = np.zeros(rows, dtype=bool)
    else:
        values = np.empty(rows, dtype=object)
        missing, broken = np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool)
        for i, cell in enumerate(cells):
            if cell is None or cell == "":
                missing[i] = True
            elif isinstance(cell, int) and not isinstance(cell, bool):
                values[i] = str(cell)
            elif isinstance(cell, str):
                values[i] = cell
            else:
                broken[i] = True
    if missing.any():
        values[missing] = np.nan
    return values, broken | (missing & (not spec.nullable))


def _bound(value: float | None, default: float) -> float:
    return default if value is None else value


def _python(cell: Any) -> Any:
    return cell.item() if isinstance(cell, np.generic) else cell
