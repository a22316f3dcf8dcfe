"""Columnar requests: validated a column at a time, to the same matrix and the same 422 as rows."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import orjson
import pytest
from driftloop_contracts import DatasetSchema, FeatureSpec, TargetSpec
from driftloop_core import InvalidInput
from driftloop_predictor.bodies import parse_rows, request_rows
from driftloop_predictor.columns import Columns, columns_from
from driftloop_predictor.encoding import RowEncoder
from driftloop_sdk.scenario import SCHEMA, CreditScenario

SENSORS = DatasetSchema(
    name="sensors",
    features=(
        FeatureSpec(name="temperature", kind="numeric", minimum=-40, maximum=60),
        FeatureSpec(name="pressure", kind="numeric", minimum=0),
        FeatureSpec(name="vibration", kind="numeric", nullable=True),
    ),
    target=TargetSpec(name="fault", classes=("ok", "fault")),
)
SHOP = DatasetSchema(
    name="shop",
    features=(
        FeatureSpec(name="age", kind="numeric", minimum=18, maximum=100),
        FeatureSpec(name="plan", kind="categorical", categories=("free", "pro")),
        FeatureSpec(name="coupon", kind="categorical", nullable=True),
    ),
    target=TargetSpec(name="churn", classes=("no", "yes")),
)


def as_columns(rows: list[dict[str, Any]], schema: DatasetSchema) -> Columns:
    return columns_from({n: [r.get(n) for r in rows] for n in schema.feature_names})


def refusal(encoder: RowEncoder, batch: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        encoder.encode(batch)
    return caught.value


def test_columns_of_a_mixed_schema_give_the_matrix_rows_give() -> None:
    rows = CreditScenario(3).draw(50, "before").features
    encoder = RowEncoder(SCHEMA)

    x, logged = encoder.encode(as_columns(rows, SCHEMA))

    expected, _ = encoder.encode(rows)
    assert x.tolist() == expected.tolist()
    assert logged.tolist() == [[r[n] for n in SCHEMA.feature_names] for r in rows]


def test_numeric_columns_become_one_float_matrix_whatever_their_order() -> None:
    rows = [{"temperature": 20.5, "pressure": 3, "vibration": 0.25} for _ in range(3)]
    columns = {"vibration": [0.25] * 3, "pressure": [3] * 3, "temperature": [20.5] * 3}

    x, logged = RowEncoder(SENSORS).encode(columns_from(columns))

    assert x.dtype == np.float64 and x.tolist() == [[20.5, 3.0, 0.25]] * 3
    assert logged is x
    assert x.tolist() == RowEncoder(SENSORS).encode(rows)[0].tolist()


@pytest.mark.parametrize(
    ("feature", "value"),
    [
        ("temperature", "hot"),
        ("temperature", True),
        ("temperature", None),
        ("temperature", 61),
        ("pressure", -1),
        ("pressure", 10**400),
        ("temperature", [1]),
    ],
)
def test_a_bad_cell_is_refused_with_the_row_validators_words_and_row(
    feature: str, value: Any
) -> None:
    rows = [{"temperature": 20.0, "pressure": 1.0, "vibration": 0.0} for _ in range(4)]
    rows[2] = {**rows[2], feature: value}
    encoder = RowEncoder(SENSORS)

    by_column = refusal(encoder, as_columns(rows, SENSORS))

    by_row = refusal(encoder, rows)
    assert by_column.message == by_row.message
    assert by_column.details == by_row.details
    assert f"row 2: feature {feature!r}" in by_column.message or "missing" in by_column.message


@pytest.mark.parametrize(
    ("feature", "value", "valid"),
    [
        ("plan", 3, True),
        ("plan", "", False),
        ("plan", None, False),
        ("plan", 2.5, False),
        ("plan", True, False),
        ("age", "x", False),
        ("coupon", None, True),
    ],
)
def test_categorical_cells_follow_the_row_rules_too(feature: str, value: Any, valid: bool) -> None:
    rows = [{"age": 30, "plan": "free", "coupon": "spring"} for _ in range(3)]
    rows[1] = {**rows[1], feature: value}
    encoder = RowEncoder(SHOP)
    batch = as_columns(rows, SHOP)

    if valid:
        assert encoder.encode(batch)[0].tolist() == encoder.encode(rows)[0].tolist()
    else:
        assert refusal(encoder, batch).details == refusal(encoder, rows).details


def test_numeric_strings_and_nulls_of_nullable_features_are_valid_as_in_rows() -> None:
    columns = {
        "temperature": ["21.5", 20],
        "pressure": [1, "2"],
        "vibration": [None, ""],
    }

    x, _ = RowEncoder(SENSORS).encode(columns_from(columns))

    assert x[:, :2].tolist() == [[21.5, 1.0], [20.0, 2.0]]
    assert np.isnan(x[:, 2]).all()


def test_a_nullable_feature_may_be_left_out_and_a_required_one_may_not() -> None:
    x, _ = RowEncoder(SHOP).encode(columns_from({"age": [30, 40], "plan": ["free", "pro"]}))
    assert x[:, :2].tolist() == [[30.0, "free"], [40.0, "pro"]]

    refused = refusal(RowEncoder(SHOP), columns_from({"age": [30, 40]}))
    assert refused.message == "2 of 2 row(s) invalid; row 0: missing feature 'plan'"


def test_every_bad_row_is_listed_and_the_first_named_in_the_message() -> None:
    columns = {"temperature": [20, 99, 20, 20], "pressure": [1, 1, -2, "x"], "vibration": [0] * 4}

    refused = refusal(RowEncoder(SENSORS), columns_from(columns))

    assert refused.message.startswith("3 of 4 row(s) invalid; row 1: feature 'temperature'")
    assert [d["row"] for d in refused.details] == [1, 2, 3]  # type: ignore[union-attr]


def test_numpy_columns_are_checked_the_same_way() -> None:
    batch = Columns(
        {
            "temperature": np.array([20.0, np.inf]),
            "pressure": np.array([1, 2], dtype=np.int32),
            "vibration": np.array([True, False]),
        },
        2,
    )

    refused = refusal(RowEncoder(SENSORS), batch)

    assert refused.details == [
        {"row": 0, "error": "feature 'vibration' must be a number, got bool True"},
        {"row": 1, "error": "feature 'temperature' must be finite, got inf"},
    ]


def test_an_unknown_column_is_refused_by_name() -> None:
    columns = {"temperature": [1], "pressure": [1], "vibration": [1], "colour": ["red"]}

    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['colour'\]"):
        RowEncoder(SENSORS).encode(columns_from(columns))


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({}, "columns must be an object"),
        ([[1, 2]], "columns must be an object"),
        ({"a": 1}, "column 'a' must be a list"),
        ({"a": [1], "b": [1, 2]}, "same number of rows"),
        ({"a": []}, "at least one row"),
    ],
)
def test_columns_of_the_wrong_shape_are_refused_saying_which(columns: Any, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        columns_from(columns)


def test_a_batch_body_holds_rows_or_columns_and_not_both() -> None:
    assert request_rows({"rows": [{"a": 1}]}, single=False) == [{"a": 1}]
    assert len(request_rows({"columns": {"a": [1, 2]}}, single=False)) == 2
    for body in ({"rows": [{"a": 1}], "columns": {"a": [1]}}, {"row": []}, [1]):
        with pytest.raises(InvalidInput, match='"columns"'):
            request_rows(body, single=False)
    assert request_rows({"features": {"a": 1}}, single=True) == [{"a": 1}]


def test_columns_index_as_rows_for_whatever_needs_a_row() -> None:
    batch = Columns({"a": np.array([1.0, 2.0]), "b": ["x", "y"]}, 2)

    assert batch[1] == {"a": 2.0, "b": "y"}
    assert list(batch) == [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}]
    assert type(batch[0]["a"]) is float


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (True, "row 1: feature 'pressure' must be a number, got bool True"),
        (False, "row 1: feature 'pressure' must be a number, got bool False"),
        ("high", "row 1: feature 'pressure' must be a number, got 'high'"),
        (None, "row 1: missing feature 'pressure'"),
    ],
)
def test_a_json_body_is_checked_cell_by_cell_where_numpy_cannot_tell(
    cell: Any, reason: str
) -> None:
    columns = {"temperature": [20, 21], "pressure": [1.5, cell], "vibration": [0.1, 0.2]}
    raw = orjson.dumps({"columns": columns})

    with pytest.raises(InvalidInput, match=re.escape(reason)):
        RowEncoder(SENSORS).encode(parse_rows(raw, single=False))


def test_numeric_strings_are_the_numbers_they_spell_and_zeros_and_ones_stay_numbers() -> None:
    raw = orjson.dumps({"columns": {"temperature": ["20.5"], "pressure": [1], "vibration": [0.0]}})

    batch = parse_rows(raw, single=False)
    x, _ = RowEncoder(SENSORS).encode(batch)

    assert isinstance(batch, Columns)
    assert x.tolist() == [[20.5, 1.0, 0.0]]
