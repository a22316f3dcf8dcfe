"""The predict routes' request bodies to rows or columns, and the answer in the same shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from driftloop_core import InvalidInput

from .columns import Columns, columns_from
from .encoding import as_rows
from .plainnumbers import numeric_columns
from .service import Predictions

BATCH_SHAPES = '{"rows": [{...}, ...]} or {"columns": {"feature": [...], ...}}'


def parse_rows(raw: bytes, single: bool) -> Sequence[Any]:
    """A JSON body's rows or columns (orjson.JSONDecodeError if it is not JSON). Columns of
    plain numbers are read straight into float arrays; any other body by orjson."""
    if not single:
        columns = numeric_columns(raw)
        if columns is not None:
            return columns
    return request_rows(orjson.loads(raw), single)


def request_rows(body: Any, single: bool) -> Sequence[Any]:
    """Rows (a list of feature objects) or Columns (one list per feature), as the body sent."""
    if single:
        return as_rows(body, single)
    if not isinstance(body, Mapping) or ("rows" in body) == ("columns" in body):
        raise InvalidInput(f"body must be a JSON object like {BATCH_SHAPES}")
    if "columns" in body:
        return columns_from(body["columns"])
    return as_rows(body, single)


def answer_json(result: Predictions, batch: Sequence[Any], single: bool) -> bytes:
    """A single answer, a list of answers for rows, or the same fields as columns for
    columns (no object per row either way in)."""
    if single:
        return result.single_json()
    if not isinstance(batch, Columns):
        return result.batch_json()
    predictions: dict[str, Any] = {"prediction_id": result.ids, "prediction": result.labels}
    answer: dict[str, Any] = {"model_version": result.model_version}
    if result.proba is not None:  # classification (regression answers numbers only)
        answer["classes"] = result.classes
        predictions["probability"] = result.probabilities
        predictions["probabilities"] = result.proba
    answer["predictions"] = predictions
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
