"""Columns of plain numbers read straight into floats: the same matrix, the same 422s and the
same prediction log as the orjson reading, and every other body left to orjson."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from driftloop_contracts import DatasetSchema, FeatureSpec, TargetSpec
from driftloop_core import InvalidInput
from driftloop_predictor.bodies import parse_rows, request_rows
from driftloop_predictor.columns import Columns
from driftloop_predictor.encoding import RowEncoder
from driftloop_predictor.logbuffer import Logged, encode_events
from driftloop_predictor.plainnumbers import numeric_columns, opens_with_columns

from tests.unit.test_predictor_columns import SENSORS

SHOP = DatasetSchema(
    name="shop",
    features=(
        FeatureSpec(name="age", kind="numeric", minimum=18, maximum=100),
        FeatureSpec(name="plan", kind="categorical", categories=("1", "2")),
    ),
    target=TargetSpec(name="churn", classes=("no", "yes")),
)
GOOD: dict[str, list[Any]] = {
    "temperature": [20.5, -3, 0.1],
    "pressure": [1, 2.25, 1e3],
    "vibration": [0, 1, 2],
}


def as_orjson_reads_it(raw: bytes) -> Any:
    return request_rows(orjson.loads(raw), single=False)


def refusal(encoder: RowEncoder, batch: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        encoder.encode(batch)
    return caught.value


def test_plain_numbers_become_the_matrix_orjson_and_numpy_make() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(scale=1e3, size=(3, 500))
    values[0, :5] = [0.1, 1 / 3, -0.0, 5e-324, 9007199254740993]
    columns = {
        "pressure": np.abs(values[0]).tolist(),
        "temperature": np.clip(values[1], -40, 60).tolist(),
        "vibration": [int(v) for v in values[2]],  # integers: floats as orjson's ints become
    }
    raw = orjson.dumps({"columns": columns})
    encoder = RowEncoder(SENSORS)

    fast = parse_rows(raw, single=False)
    x, logged = encoder.encode(fast)

    assert isinstance(fast, Columns) and fast.by_feature is not None
    expected, _ = encoder.encode(as_orjson_reads_it(raw))
    assert x.dtype == np.float64
    assert x.tobytes() == np.ascontiguousarray(expected).tobytes()  # bit for bit, -0.0 too
    assert logged is x


@pytest.mark.parametrize(
    "raw",
    [
        b'{"columns": {"temperature": [20, "21"], "pressure": [1, 2], "vibration": [0, 1]}}',
        b'{"columns": {"temperature": [20, true], "pressure": [1, 2], "vibration": [0, 1]}}',
        b'{"columns": {"temperature": [20, null], "pressure": [1, 2], "vibration": [0, 1]}}',
        b'{"columns": {"temperature": [[20], [21]], "pressure": [1, 2], "vibration": [0, 1]}}',
        b'{"columns": {"temperature": [20, 21], "pressure": [1, 2], "pressure": [3, 4]}}',
        b'{"columns": {"temperature": [1]}, "columns": {"temperature": [2]}}',
        b'{"columns": {"temp\\u0065rature": [20], "pressure": [1], "vibration": [0]}}',
        b'{"columns": {"temperature": [20], "pressure": [1e400], "vibration": [0]}}',
        b'{"columns": {"temperature": [20], "pressure": [123456789012345678901234567890]}}',
        b'{"columns": {"temperature": [20]}, "rows": [{"temperature": 20}]}',
        b'{"columns": {"temperature": [20]}, "weights": [1]}',
        b'{"columns": {"temperature": 20}}',
        b'{"columns": {"temperature": []}}',
        b'{"columns": {"temperature": [1], "pressure": [1, 2]}}',
        b'{"columns": {}}',
        b'{"columns": [[1, 2]]}',
        b"[1, 2]",
    ],
)
def test_any_other_body_is_left_to_orjson(raw: bytes) -> None:
    assert numeric_columns(raw) is None


def test_only_a_body_opening_with_columns_is_worth_the_fast_reader() -> None:
    rows = orjson.dumps({"rows": [{"temperature": 20, "pressure": 1}] * 100})

    assert opens_with_columns(orjson.dumps({"columns": GOOD}))
    assert opens_with_columns(b' {\n  "columns" : {"a": [1]}}')
    assert not opens_with_columns(rows)  # a row body is left to orjson without a parse
    assert not opens_with_columns(b'{"weights": [1], "columns": {"a": [1]}}')
    assert not opens_with_columns(b"[1, 2]")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"columns": {"temperature": [01], "pressure": [1], "vibration": [0]}}',
        b'{"columns": {"temperature": [.5], "pressure": [1], "vibration": [0]}}',
        b'{"columns": {"temperature": [NaN], "pressure": [1], "vibration": [0]}}',
        b'{"columns": {"temperature": [1,], "pressure": [1], "vibration": [0]}}',
        b'{"columns": {"temperature": [1]}} trailing',
    ],
)
def test_what_is_not_json_is_still_refused_as_not_json(raw: bytes) -> None:
    assert numeric_columns(raw) is None
    with pytest.raises(orjson.JSONDecodeError):
        parse_rows(raw, single=False)


@pytest.mark.parametrize(
    ("feature", "value"),
    [("temperature", 61), ("temperature", -40.5), ("pressure", -1), ("temperature", 10**19)],
)
def test_a_bad_value_read_fast_is_refused_in_the_words_and_rows_orjson_gives(
    feature: str, value: Any
) -> None:
    columns = {name: list(values) for name, values in GOOD.items()}
    columns[feature][1] = value
    raw = orjson.dumps({"columns": columns})
    encoder = RowEncoder(SENSORS)

    fast = refusal(encoder, parse_rows(raw, single=False))

    exact = refusal(encoder, as_orjson_reads_it(raw))
    assert (fast.message, fast.details) == (exact.message, exact.details)
    assert f"row 1: feature {feature!r}" in fast.message


def test_an_unknown_or_missing_column_read_fast_is_named_as_before() -> None:
    encoder = RowEncoder(SENSORS)
    unknown = orjson.dumps({"columns": {**GOOD, "colour": [1, 2, 3]}})
    missing = orjson.dumps({"columns": {"temperature": [1], "vibration": [2]}})

    for raw in (unknown, missing):
        fast = refusal(encoder, parse_rows(raw, single=False))
        exact = refusal(encoder, as_orjson_reads_it(raw))
        assert (fast.message, fast.details) == (exact.message, exact.details)
    assert "unknown column(s) ['colour']" in refusal(encoder, parse_rows(unknown, False)).message


def test_columns_in_another_order_than_the_schema_are_put_in_its_order() -> None:
    raw = orjson.dumps({"columns": {"vibration": [3.0], "temperature": [1.0], "pressure": [2.0]}})

    x, _ = RowEncoder(SENSORS).encode(parse_rows(raw, single=False))

    assert x.tolist() == [[1.0, 2.0, 3.0]]


def test_numbers_for_a_schema_with_categories_are_read_as_sent() -> None:
    raw = orjson.dumps({"columns": {"age": [30, 40], "plan": [1, 2]}})
    encoder = RowEncoder(SHOP)

    x, _ = encoder.encode(parse_rows(raw, single=False))

    assert x.tolist() == [[30.0, "1"], [40.0, "2"]]  # the integers as the categories they spell
    assert x.tolist() == encoder.encode(as_orjson_reads_it(raw))[0].tolist()


def test_the_prediction_log_of_columns_read_fast_is_the_one_logged_before() -> None:
    raw = orjson.dumps({"columns": GOOD})
    encoder = RowEncoder(SENSORS)
    ids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(3)]

    def logged(batch: Any) -> dict[str, Any]:
        _, features = encoder.encode(batch)
        entry = Logged("sensors", 1, "primary", encoder.names, ids, features, ["ok"] * 3, None, 7)
        (body,) = encode_events([entry])
        event: dict[str, Any] = orjson.loads(bytes(body))
        for envelope in ("event_id", "correlation_id", "occurred_at"):
            event.pop(envelope)
        return event

    assert logged(parse_rows(raw, single=False)) == logged(as_orjson_reads_it(raw))
