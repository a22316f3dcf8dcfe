"""Rows against a DatasetSchema: values coerced to the schema, or a reason saying what to fix."""

from __future__ import annotations

from typing import Any

import pytest
from driftloop_contracts import DatasetSchema, FeatureSpec, TargetSpec
from driftloop_contracts.rows import RowError, validate_features, validate_label

SCHEMA = DatasetSchema(
    name="churn",
    features=(
        FeatureSpec(name="age", kind="numeric", minimum=0, maximum=120),
        FeatureSpec(name="income", kind="numeric", nullable=True),
        FeatureSpec(name="plan", kind="categorical", categories=("basic", "pro")),
        FeatureSpec(name="region", kind="categorical", nullable=True),
    ),
    target=TargetSpec(name="churned", classes=("no", "yes")),
)

NUMBERED = DatasetSchema(
    name="digits",
    features=(FeatureSpec(name="x", kind="numeric"),),
    target=TargetSpec(name="digit", classes=("0", "1", "2")),
)


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"age": 40, "income": 52_000.5, "plan": "pro", "region": "north"}
    base.update(changes)
    return base


def reason(features: dict[str, Any]) -> str:
    with pytest.raises(RowError) as caught:
        validate_features(SCHEMA, features)
    return str(caught.value)


# -------------------------------------------------------------------------- valid rows


def test_a_valid_row_comes_back_with_numbers_as_floats() -> None:
    clean = validate_features(SCHEMA, row())

    assert clean == {"age": 40.0, "income": 52_000.5, "plan": "pro", "region": "north"}
    assert isinstance(clean["age"], float)


def test_the_clean_row_follows_the_schemas_feature_order() -> None:
    shuffled = dict(reversed(list(row().items())))

    assert list(validate_features(SCHEMA, shuffled)) == ["age", "income", "plan", "region"]


@pytest.mark.parametrize(
    ("text", "number"), [("42", 42.0), ("3.5", 3.5), (" 7 ", 7.0), ("1e2", 100.0)]
)
def test_a_numeric_string_is_coerced_to_a_number(text: str, number: float) -> None:
    assert validate_features(SCHEMA, row(age=text))["age"] == number


def test_an_unknown_category_is_accepted_as_it_is() -> None:
    assert validate_features(SCHEMA, row(plan="enterprise"))["plan"] == "enterprise"


def test_an_integer_category_is_coerced_to_a_string() -> None:
    assert validate_features(SCHEMA, row(plan=3))["plan"] == "3"


@pytest.mark.parametrize("missing", [None, ""], ids=["null", "empty-string"])
def test_a_nullable_feature_may_be_missing(missing: Any) -> None:
    clean = validate_features(SCHEMA, row(income=missing, region=missing))

    assert clean["income"] is None
    assert clean["region"] is None


def test_a_nullable_feature_may_be_left_out() -> None:
    features = row()
    del features["income"]

    assert validate_features(SCHEMA, features)["income"] is None


def test_the_bounds_themselves_are_valid() -> None:
    assert validate_features(SCHEMA, row(age=0))["age"] == 0.0
    assert validate_features(SCHEMA, row(age=120))["age"] == 120.0


# ---------------------------------------------------------------------------- bad rows


@pytest.mark.parametrize("flag", [True, False])
def test_a_bool_is_not_a_number(flag: bool) -> None:
    assert reason(row(age=flag)) == f"feature 'age' must be a number, got bool {flag!r}"


def test_a_string_that_is_not_a_number_is_refused() -> None:
    assert reason(row(age="forty")) == "feature 'age' must be a number, got 'forty'"


def test_a_list_is_not_a_number() -> None:
    assert reason(row(age=[40])) == "feature 'age' must be a number, got list [40]"


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), "nan", "inf", "1e999"]
)
def test_a_non_finite_number_is_refused(value: Any) -> None:
    assert reason(row(income=value)).startswith("feature 'income' must be finite, got ")


def test_a_value_below_the_minimum_names_the_minimum() -> None:
    assert reason(row(age=-1)) == "feature 'age' is -1.0, below the minimum 0.0"


def test_a_value_above_the_maximum_names_the_maximum() -> None:
    assert reason(row(age="130")) == "feature 'age' is 130.0, above the maximum 120.0"


def test_unknown_features_are_named_with_the_features_the_schema_has() -> None:
    message = reason(row(zip="75001", Age=3))

    assert message == (
        "unknown feature(s) ['Age', 'zip']; the schema has ['age', 'income', 'plan', 'region']"
    )


@pytest.mark.parametrize("missing", [None, ""], ids=["null", "empty-string"])
def test_a_required_feature_that_is_missing_is_named(missing: Any) -> None:
    assert reason(row(age=missing)) == "missing feature 'age'"


def test_a_required_feature_left_out_is_named() -> None:
    features = row()
    del features["plan"]

    assert reason(features) == "missing feature 'plan'"


@pytest.mark.parametrize(("value", "kind"), [(1.5, "float"), (True, "bool"), ({}, "dict")])
def test_a_categorical_feature_asks_for_a_string(value: Any, kind: str) -> None:
    assert reason(row(plan=value)) == f"feature 'plan' is categorical: send a string, got {kind}"


def test_features_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(RowError, match=r"^features must be an object, got list$"):
        validate_features(SCHEMA, [1, 2])  # type: ignore[arg-type]


def test_a_row_error_is_a_value_error() -> None:
    assert issubclass(RowError, ValueError)


# ------------------------------------------------------------------------------ labels


def test_a_known_label_is_returned() -> None:
    assert validate_label(SCHEMA, "yes") == "yes"


def test_an_integer_label_matches_its_class_as_text() -> None:
    assert validate_label(NUMBERED, 1) == "1"
    assert validate_label(NUMBERED, "2") == "2"


def test_a_label_outside_the_classes_lists_the_classes() -> None:
    with pytest.raises(RowError) as caught:
        validate_label(SCHEMA, "maybe")

    assert str(caught.value) == "label 'maybe' is not one of ['no', 'yes']"


def test_labels_are_case_sensitive() -> None:
    with pytest.raises(RowError, match=r"^label 'Yes' is not one of \['no', 'yes'\]$"):
        validate_label(SCHEMA, "Yes")


@pytest.mark.parametrize("label", [True, 1.0, ["1"]], ids=["bool", "float", "list"])
def test_a_label_that_is_not_text_or_an_integer_is_refused(label: Any) -> None:
    with pytest.raises(RowError) as caught:
        validate_label(NUMBERED, label)

    assert str(caught.value) == f"label {label!r} is not one of ['0', '1', '2']"


@pytest.mark.parametrize("label", [None, ""], ids=["null", "empty-string"])
def test_a_missing_label_names_the_target(label: Any) -> None:
    with pytest.raises(RowError, match=r"^missing label 'churned'$"):
        validate_label(SCHEMA, label)
