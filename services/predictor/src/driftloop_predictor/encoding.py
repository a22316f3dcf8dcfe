"""Request rows to the matrix the model takes, fast when it can be and exact when it must be.

All-numeric schemas take a vectorised path (one type scan, one numpy conversion, vectorised
range checks). Anything it cannot prove valid, and every mixed schema, goes through the
row-by-row validator, which is also what words the 422 when a row is wrong.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema, FeatureRow
from driftloop_contracts.keys import prediction_head
from driftloop_contracts.rows import RowError, validate_features
from driftloop_core import InvalidInput
from driftloop_ml import feature_matrix

from .columns import ColumnEncoder, Columns

_NUMBERS = {float, int}


class RowEncoder:
    def __init__(self, schema: DatasetSchema) -> None:
        self.schema = schema
        self.names = schema.feature_names
        self.numeric = all(f.kind == "numeric" for f in schema.features)
        # itemgetter of one name returns a bare value, of several a tuple: always a tuple here
        getter = itemgetter(*self.names)
        self._pick = getter if len(self.names) > 1 else (lambda row: (getter(row),))
        low = [f.minimum if f.minimum is not None else -np.inf for f in schema.features]
        high = [f.maximum if f.maximum is not None else np.inf for f in schema.features]
        self._low, self._high = np.array(low), np.array(high)
        self.columns = ColumnEncoder(schema)

    def encode(self, rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray | list[list[Any]]]:
        """The model's input, and the feature values to log (in schema order); InvalidInput
        if any row is wrong, naming every bad row."""
        if isinstance(rows, Columns):
            return self.columns.encode(rows)
        if self.numeric:
            fast = self._numeric(rows)
            if fast is not None:
                return fast, fast
        clean = self.validate(rows)
        names = self.names
        return feature_matrix(self.schema, clean), [[row[n] for n in names] for row in clean]

    def _numeric(self, rows: Sequence[Any]) -> np.ndarray | None:
        width, pick = len(self.names), self._pick
        try:
            values = [pick(row) for row in rows]
        except (KeyError, TypeError):
            return None
        if any(len(row) != width for row in rows):
            return None  # unknown features: let the validator name them
        if not set(map(type, chain.from_iterable(values))) <= _NUMBERS:
            return None  # strings, booleans, nulls: the validator decides
        try:
            matrix = np.fromiter(
                chain.from_iterable(values), dtype=np.float64, count=len(values) * width
            ).reshape(len(values), width)
        except OverflowError:
            return None  # an integer too large for a float: the validator says so
        if not (
            np.isfinite(matrix).all()
            and (matrix >= self._low).all()
            and (matrix <= self._high).all()
        ):
            return None
        return matrix

    def validate(self, rows: Sequence[Any]) -> list[FeatureRow]:
        clean: list[FeatureRow] = []
        problems: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            try:
                clean.append(validate_features(self.schema, row))
            except RowError as exc:
                problems.append({"row": index, "error": str(exc)})
        if problems:
            first = problems[0]
            raise InvalidInput(
                f"{len(problems)} of {len(rows)} row(s) invalid; "
                f"row {first['row']}: {first['error']}",
                details=problems,
            )
        return clean


#: The last three hex digits of an id: its row within a run of up to 4,096 ids.
_ROW_DIGITS = [f"{i:03x}" for i in range(4096)]


def prediction_ids(n: int, shard: int = 0, shards: int = 1) -> list[str]:
    """n distinct version-4 UUIDs as canonical strings, made cheaply (at 100 rows a loop over
    uuid4() costs more than the predict, and so does formatting each id).

    One random UUID per 4,096 ids: each id is its first 33 characters (110 random bits, the
    version and the variant) and the row's number in three hex digits. So ids are distinct
    within a call, collide across calls with the odds of 110 random bits, and one id tells
    nothing about another answer's ids: only about its own answer's, which its client holds.
    With shards (REDIS_SHARDS > 1) the first 32 bits name the dataset's shard (its label is
    joined there: driftloop_contracts.keys.shard_of_prediction)."""
    ids: list[str] = []
    for start in range(0, n, len(_ROW_DIGITS)):
        head = str(uuid.UUID(bytes=os.urandom(16), version=4))[:33]
        if shards > 1:
            head = f"{prediction_head(int(head[:8], 16), shard, shards):08x}{head[8:]}"
        ids.extend(map(head.__add__, _ROW_DIGITS[: n - start]))
    return ids


def as_rows(body: Mapping[str, Any], single: bool) -> list[Any]:
    """The rows of a request body, or InvalidInput saying what shape was expected."""
    key = "features" if single else "rows"
    if not isinstance(body, Mapping) or key not in body:
        example = '{"features": {...}}' if single else '{"rows": [{...}, ...]}'
        raise InvalidInput(f"body must be a JSON object like {example}")
    value = body[key]
    if single:
        if not isinstance(value, Mapping):
            raise InvalidInput("features must be an object of feature values")
        return [value]
    if not isinstance(value, list) or not value:
        raise InvalidInput("rows must be a non-empty list of feature objects")
    return value
