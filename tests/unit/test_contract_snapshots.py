"""Within a stream version only additive changes: each event's JSON Schema against its snapshot.

The snapshots in tests/unit/snapshots/ are the contract as published. A change that could break
a producer or a consumer written against them fails here:

* a property of the snapshot is gone, or its shape (JSON ``type``, ``$ref``, ``anyOf`` members,
  and for arrays and maps the shape of their items) changed;
* a property is required that was not required before (old producers do not send it).

New optional properties are fine. A breaking change belongs on a new stream (``.v2``).
Run ``UPDATE_SNAPSHOTS=1 make test-unit`` (or ``make snapshots``) to rewrite the snapshots.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from driftloop_contracts import TrainingRequested
from driftloop_contracts.envelope import Event
from driftloop_contracts.streams import ALL_STREAMS, Stream

JsonSchema = dict[str, Any]

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
HOW_TO_UPDATE = "run `UPDATE_SNAPSHOTS=1 make test-unit` and commit tests/unit/snapshots/"

#: Keys of a property's schema that readers and writers depend on.
_SHAPE_KEYS = ("type", "$ref")
#: Keys holding a list of sub-schemas (unions).
_UNION_KEYS = ("anyOf", "oneOf", "allOf")
#: Keys holding one sub-schema (array items, map values).
_NESTED_KEYS = ("items", "additionalProperties")


# ------------------------------------------------------------------------ the comparison


def shape(schema: Any) -> Any:
    """The part of a property's schema that a change to would break its readers or writers.

    Descriptions, titles, examples and defaults are left out: changing them is not breaking.
    """
    if not isinstance(schema, dict):
        return schema  # e.g. additionalProperties: true
    out: dict[str, Any] = {key: schema[key] for key in _SHAPE_KEYS if key in schema}
    for key in _UNION_KEYS:
        if key in schema:
            out[key] = [shape(member) for member in schema[key]]
    for key in _NESTED_KEYS:
        if key in schema:
            out[key] = shape(schema[key])
    return out


def _object_changes(where: str, old: JsonSchema, new: JsonSchema) -> list[str]:
    problems: list[str] = []
    old_props: JsonSchema = old.get("properties", {})
    new_props: JsonSchema = new.get("properties", {})
    for name in sorted(old_props):
        if name not in new_props:
            problems.append(f"{where}{name}: property removed")
            continue
        before, after = shape(old_props[name]), shape(new_props[name])
        if before != after:
            problems.append(f"{where}{name}: shape changed from {before} to {after}")
    newly_required = set(new.get("required", ())) - set(old.get("required", ()))
    problems.extend(f"{where}{name}: newly required" for name in sorted(newly_required))
    return problems


def breaking_changes(snapshot: JsonSchema, current: JsonSchema) -> list[str]:
    """Every non-additive difference from `snapshot` to `current`, one line each (empty: fine).

    The event itself and every nested model of the snapshot (its ``$defs``) are compared.
    """
    problems = _object_changes("", snapshot, current)
    old_defs: JsonSchema = snapshot.get("$defs", {})
    new_defs: JsonSchema = current.get("$defs", {})
    for name in sorted(old_defs):
        if name not in new_defs:
            problems.append(f"$defs.{name}: nested model removed")
        else:
            problems.extend(_object_changes(f"$defs.{name}.", old_defs[name], new_defs[name]))
    return problems


def snapshot_path(stream_name: str, directory: Path = SNAPSHOT_DIR) -> Path:
    return directory / f"{stream_name}.json"


def write_snapshot(path: Path, schema: JsonSchema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def compare_with_snapshot(
    stream_name: str, schema: JsonSchema, directory: Path = SNAPSHOT_DIR
) -> list[str]:
    """The breaking changes of `schema` against the committed snapshot of `stream_name`."""
    path = snapshot_path(stream_name, directory)
    if not path.exists():
        return [f"no snapshot for {stream_name} at {path}: {HOW_TO_UPDATE}"]
    return breaking_changes(json.loads(path.read_text()), schema)


# -------------------------------------------------------------------- the real contracts


@pytest.mark.parametrize("stream", ALL_STREAMS, ids=[s.name for s in ALL_STREAMS])
def test_each_stream_changes_only_additively_against_its_snapshot(stream: Stream[Event]) -> None:
    schema = stream.event.model_json_schema()
    if UPDATE:
        write_snapshot(snapshot_path(stream.name), schema)
        pytest.skip(f"UPDATE_SNAPSHOTS=1: wrote {snapshot_path(stream.name)}")
    problems = compare_with_snapshot(stream.name, schema)
    assert not problems, (
        f"{stream.name} ({stream.event.__name__}) changed in a breaking way:\n  "
        + "\n  ".join(problems)
        + f"\nMake the change additive, or publish it on a new stream version; "
        f"if the change is intended and additive, {HOW_TO_UPDATE}"
    )


def test_every_snapshot_belongs_to_a_stream_that_still_exists() -> None:
    names = {s.name for s in ALL_STREAMS}
    orphans = sorted(p.stem for p in SNAPSHOT_DIR.glob("*.json") if p.stem not in names)
    assert not orphans, (
        f"snapshots without a stream in ALL_STREAMS: {orphans}; removing a stream breaks its "
        "consumers (delete the snapshot only if the stream was retired on purpose)"
    )


# --------------------------------------------------------- the check catches what it must


@pytest.fixture
def published() -> JsonSchema:
    """A schema as it was snapshotted: TrainingRequested's, nested models included."""
    schema = TrainingRequested.model_json_schema()
    schema["$defs"] = {
        "Window": {
            "properties": {"start": {"type": "string", "format": "date-time"}},
            "required": ["start"],
            "type": "object",
        }
    }
    return schema


def test_the_same_schema_has_no_breaking_changes(published: JsonSchema) -> None:
    assert breaking_changes(published, copy.deepcopy(published)) == []


def test_a_removed_property_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    del current["properties"]["reason"]

    assert breaking_changes(published, current) == ["reason: property removed"]


def test_a_property_that_becomes_required_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["required"] = [*current["required"], "reason"]

    assert breaking_changes(published, current) == ["reason: newly required"]


def test_a_new_required_property_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["properties"]["priority"] = {"type": "integer"}
    current["required"] = [*current["required"], "priority"]

    assert breaking_changes(published, current) == ["priority: newly required"]


def test_a_new_optional_property_is_allowed(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["properties"]["priority"] = {"type": "integer", "default": 0}

    assert breaking_changes(published, current) == []


def test_a_changed_type_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["properties"]["reason"]["type"] = "integer"

    [problem] = breaking_changes(published, current)
    assert problem.startswith("reason: shape changed from {'type': 'string'}")


def test_an_optional_field_losing_its_null_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["properties"]["since"] = {"type": "string", "format": "date-time"}

    [problem] = breaking_changes(published, current)
    assert problem.startswith("since: shape changed from {'anyOf': ")


def test_a_changed_reference_is_reported() -> None:
    old: JsonSchema = {"properties": {"blob": {"$ref": "#/$defs/BlobRef"}}}
    new: JsonSchema = {"properties": {"blob": {"$ref": "#/$defs/OtherRef"}}}

    assert breaking_changes(old, new) == [
        "blob: shape changed from {'$ref': '#/$defs/BlobRef'} to {'$ref': '#/$defs/OtherRef'}"
    ]


def test_a_changed_array_item_is_reported() -> None:
    old: JsonSchema = {"properties": {"rows": {"type": "array", "items": {"type": "string"}}}}
    new: JsonSchema = {"properties": {"rows": {"type": "array", "items": {"type": "integer"}}}}

    assert len(breaking_changes(old, new)) == 1


def test_a_new_description_or_default_is_not_breaking(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["properties"]["dataset"]["description"] = "Dataset to train on."
    current["properties"]["reason"]["default"] = "scheduled"

    assert breaking_changes(published, current) == []


def test_a_nested_model_losing_a_property_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    del current["$defs"]["Window"]["properties"]["start"]

    assert breaking_changes(published, current) == ["$defs.Window.start: property removed"]


def test_a_nested_model_gaining_a_required_property_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    current["$defs"]["Window"]["properties"]["end"] = {"type": "string"}
    current["$defs"]["Window"]["required"] = ["start", "end"]

    assert breaking_changes(published, current) == ["$defs.Window.end: newly required"]


def test_a_removed_nested_model_is_reported(published: JsonSchema) -> None:
    current = copy.deepcopy(published)
    del current["$defs"]["Window"]

    assert breaking_changes(published, current) == ["$defs.Window: nested model removed"]


def test_a_missing_snapshot_says_how_to_write_it(tmp_path: Path) -> None:
    problems = compare_with_snapshot("brand.new.v1", {"properties": {}}, tmp_path)

    assert len(problems) == 1
    assert "no snapshot for brand.new.v1" in problems[0]
    assert "UPDATE_SNAPSHOTS=1 make test-unit" in problems[0]


def test_a_written_snapshot_reads_back_without_breaking_changes(
    tmp_path: Path, published: JsonSchema
) -> None:
    write_snapshot(snapshot_path("training.requested.v1", tmp_path), published)

    assert compare_with_snapshot("training.requested.v1", published, tmp_path) == []
