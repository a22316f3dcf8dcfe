"""Dataset versions as canonical JSON lines, and the DatasetSchema they are validated against."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from driftloop_contracts import DatasetSchema, FeatureSpec, TargetSpec
from driftloop_contracts.datasets import LabelledRow, dumps, loads
from pydantic import ValidationError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rows() -> list[LabelledRow]:
    return [
        LabelledRow({"age": 40.0, "plan": "pro", "region": None}, "yes", T0),
        LabelledRow({"age": 31.5, "plan": "basic", "region": "north"}, "no", T0.replace(second=1)),
        LabelledRow({"age": 0.0, "plan": "pro", "region": "süd"}, "no", T0.replace(microsecond=7)),
    ]


def schema_dict(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "churn",
        "features": [
            {"name": "age", "kind": "numeric", "minimum": 0, "maximum": 120},
            {"name": "plan", "kind": "categorical", "categories": ["basic", "pro"]},
        ],
        "target": {"name": "churned", "classes": ["no", "yes"]},
    }
    base.update(changes)
    return base


def schema(**changes: Any) -> DatasetSchema:
    return DatasetSchema.model_validate(schema_dict(**changes))


# ------------------------------------------------------------------------------ datasets


def test_rows_survive_a_dumps_loads_round_trip() -> None:
    assert loads(dumps(rows())) == rows()


def test_a_round_trip_keeps_observed_at_in_utc() -> None:
    [row] = loads(dumps([rows()[2]]))

    assert row.observed_at == T0.replace(microsecond=7)
    assert row.observed_at.utcoffset() is not None
    assert row.observed_at.utcoffset() == T0.utcoffset()


def test_each_row_is_one_line_with_sorted_keys_and_utc_z() -> None:
    data = dumps(rows()[:1])

    assert data == (
        b'{"features":{"age":40.0,"plan":"pro","region":null},'
        b'"label":"yes","observed_at":"2024-05-01T12:00:00Z"}\n'
    )


def test_the_same_rows_in_another_key_order_give_identical_bytes() -> None:
    reordered = [
        LabelledRow(dict(reversed(list(r.features.items()))), r.label, r.observed_at)
        for r in rows()
    ]

    assert list(reordered[0].features) != list(rows()[0].features)
    assert dumps(reordered) == dumps(rows())
    assert hashlib.sha256(dumps(reordered)).digest() == hashlib.sha256(dumps(rows())).digest()


def test_different_rows_give_different_bytes() -> None:
    changed = [*rows()[:2], LabelledRow({**rows()[2].features, "age": 1.0}, "no", T0)]

    assert dumps(changed) != dumps(rows())


def test_no_rows_are_no_bytes() -> None:
    assert dumps([]) == b""
    assert loads(b"") == []


def test_blank_lines_are_skipped_when_loading() -> None:
    data = dumps(rows()[:1]) + b"\n" + dumps(rows()[1:2])

    assert loads(data) == rows()[:2]


def test_non_ascii_values_round_trip() -> None:
    assert loads(dumps(rows()))[2].features["region"] == "süd"


# ------------------------------------------------------------------------ dataset schema


def test_a_valid_schema_lists_its_feature_names_in_order() -> None:
    assert schema().feature_names == ("age", "plan")


def test_duplicate_feature_names_are_refused_and_named() -> None:
    features = [{"name": "age", "kind": "numeric"}] * 2 + [{"name": "x", "kind": "numeric"}]

    with pytest.raises(ValidationError, match=r"feature names must be unique, repeated: \['age'\]"):
        schema(features=features)


def test_the_target_cannot_also_be_a_feature() -> None:
    features = [{"name": "age", "kind": "numeric"}, {"name": "churned", "kind": "categorical"}]

    with pytest.raises(ValidationError, match="target 'churned' is also listed as a feature"):
        schema(features=features)


@pytest.mark.parametrize("name", ["demo", "a", "credit-risk_2", "0day", "a" * 63])
def test_a_lowercase_dataset_name_is_accepted(name: str) -> None:
    assert schema(name=name).name == name


@pytest.mark.parametrize(
    "name",
    ["", "Demo", "-demo", "_demo", "with space", "dots.not.allowed", "slash/no", "a" * 64],
)
def test_a_dataset_name_outside_the_pattern_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        schema(name=name)


def test_a_schema_needs_at_least_one_feature() -> None:
    with pytest.raises(ValidationError, match="features"):
        schema(features=[])


def test_a_target_needs_at_least_two_classes() -> None:
    with pytest.raises(ValidationError, match="classes"):
        schema(target={"name": "churned", "classes": ["yes"]})


def test_a_misspelt_option_is_refused_rather_than_ignored() -> None:
    features = [{"name": "age", "kind": "numeric", "nullabel": True}]

    with pytest.raises(ValidationError, match="nullabel"):
        schema(features=features)


def test_an_unknown_feature_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="'numeric' or 'categorical'"):
        schema(features=[{"name": "age", "kind": "text"}])


# ----------------------------------------------------------------------------- fingerprint


def test_the_fingerprint_is_a_sha256_hex_digest() -> None:
    fingerprint = schema().fingerprint()

    assert len(fingerprint) == 64
    assert set(fingerprint) <= set("0123456789abcdef")


def test_the_same_schema_has_the_same_fingerprint_however_it_was_built() -> None:
    built = DatasetSchema(
        target=TargetSpec(classes=("no", "yes"), name="churned"),
        features=(
            FeatureSpec(maximum=120, minimum=0, kind="numeric", name="age"),
            FeatureSpec(categories=("basic", "pro"), kind="categorical", name="plan"),
        ),
        name="churn",
    )

    assert built.fingerprint() == schema().fingerprint()
    assert DatasetSchema.model_validate_json(built.model_dump_json()).fingerprint() == (
        schema().fingerprint()
    )


def test_spelled_out_defaults_do_not_change_the_fingerprint() -> None:
    explicit = schema_dict()
    explicit["features"][0] |= {"nullable": False, "categories": None}

    assert schema(**explicit).fingerprint() == schema().fingerprint()


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "churn2"},
        {"target": {"name": "churned", "classes": ["no", "yes", "maybe"]}},
        {"features": [{"name": "age", "kind": "numeric", "minimum": 0, "maximum": 130}]},
        {"features": list(reversed(schema_dict()["features"]))},
    ],
    ids=["name", "classes", "bound", "feature-order"],
)
def test_any_change_to_the_schema_changes_the_fingerprint(changes: dict[str, Any]) -> None:
    assert schema(**changes).fingerprint() != schema().fingerprint()
