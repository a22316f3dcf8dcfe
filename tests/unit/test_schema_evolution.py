"""Targets of both kinds, feature defaults, training specs, and which schema changes evolve."""

from __future__ import annotations

from typing import Any

import pytest
from driftloop_contracts import (
    DatasetSchema,
    FeatureSpec,
    SchemaEvolutionError,
    TargetSpec,
    TrainingSpec,
    evolve,
)
from driftloop_contracts.rows import RowError, validate_label
from pydantic import ValidationError


def schema(*features: dict[str, Any], target: dict[str, Any] | None = None) -> DatasetSchema:
    return DatasetSchema.model_validate(
        {
            "name": "houses",
            "features": list(features) or [{"name": "rooms", "kind": "numeric"}],
            "target": target or {"name": "price", "kind": "regression"},
        }
    )


ROOMS = {"name": "rooms", "kind": "numeric"}
AREA = {"name": "area", "kind": "categorical", "default": "unknown"}


def test_a_regression_target_takes_finite_numbers_as_labels() -> None:
    houses = schema()
    assert houses.target.is_regression
    assert validate_label(houses, 250_000) == "250000.0"
    assert validate_label(houses, "12.5") == "12.5"
    for bad in ("cheap", float("inf"), True, [1]):
        with pytest.raises(RowError, match="not a finite number"):
            validate_label(houses, bad)


def test_a_classification_target_without_classes_says_how_to_declare_regression() -> None:
    with pytest.raises(ValidationError, match='"kind": "regression"'):
        TargetSpec(name="y")
    with pytest.raises(ValidationError, match="has no `classes`"):
        TargetSpec(name="y", kind="regression", classes=("a", "b"))


def test_a_default_must_fit_the_feature_kind() -> None:
    with pytest.raises(ValidationError, match="must be a number"):
        FeatureSpec(name="x", kind="numeric", default="zero")
    with pytest.raises(ValidationError, match="must be a string"):
        FeatureSpec(name="x", kind="categorical", default=1.0)
    assert FeatureSpec(name="x", kind="numeric", default=0).default == 0


def test_registering_the_same_schema_again_keeps_its_version() -> None:
    current = schema(ROOMS).model_copy(update={"version": 3})
    assert evolve(current, schema(ROOMS)) is current


def test_features_added_at_the_end_with_defaults_make_the_next_version() -> None:
    evolved = evolve(schema(ROOMS), schema(ROOMS, AREA))
    assert evolved.version == 2
    assert evolved.feature_names == ("rooms", "area")


@pytest.mark.parametrize(
    ("proposed", "reason"),
    [
        (schema(ROOMS, {"name": "area", "kind": "numeric"}), "need a default: \\['area'\\]"),
        (schema(AREA, ROOMS), "'rooms' must stay at position 0"),
        (schema({"name": "rooms", "kind": "numeric", "maximum": 9}), "'rooms' cannot change"),
        (schema(ROOMS, target={"name": "cost", "kind": "regression"}), "target 'price'"),
        (schema(AREA), "'rooms' must stay at position 0"),
    ],
)
def test_any_other_change_is_refused_with_the_reason(proposed: DatasetSchema, reason: str) -> None:
    with pytest.raises(SchemaEvolutionError, match=reason):
        evolve(schema(ROOMS), proposed)


def test_a_training_spec_names_exactly_one_source() -> None:
    assert TrainingSpec(family="logistic", search_space={"C": (0.1, 1.0)}).family == "logistic"
    assert TrainingSpec(entry_point="my_models.churn:make_estimator").entry_point
    with pytest.raises(ValidationError, match="exactly one"):
        TrainingSpec()
    with pytest.raises(ValidationError, match="exactly one"):
        TrainingSpec(family="logistic", entry_point="a:b")
    with pytest.raises(ValidationError, match="pattern"):
        TrainingSpec(entry_point="not an entry point")
