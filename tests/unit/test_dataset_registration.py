"""Registering a dataset, as pure decisions over the current registration; schema files as
seeds; the live schemas every ingest replica validates against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from driftloop_bus import Bus
from driftloop_contracts import DatasetRegistered, DatasetSchema, TrainingSpec
from driftloop_contracts.rows import RowError, validate_features
from driftloop_contracts.specs import MonitoringOverrides
from driftloop_core import Conflict, NotFound, NotReady
from driftloop_ingest.candidates import Candidates
from driftloop_ingest.registrar import Registered, Registrar
from driftloop_ingest.registration import (
    Refused,
    Register,
    RegistrationIn,
    Unchanged,
    decide_registration,
)
from driftloop_ingest.seeds import register_seeds
from driftloop_ingest.service import Schemas
from driftloop_ingest.settings import IngestSettings
from driftloop_ingest.validation import validate
from pydantic import ValidationError

HOUSES: dict[str, Any] = {
    "name": "houses",
    "features": [{"name": "rooms", "kind": "numeric"}, {"name": "city", "kind": "categorical"}],
    "target": {"name": "price", "kind": "regression"},
}
GARDEN = {"name": "garden", "kind": "numeric", "default": 0}


def request(schema: dict[str, Any] = HOUSES, **extra: Any) -> RegistrationIn:
    return RegistrationIn.model_validate({"schema": schema, **extra})


def registered(
    schema: dict[str, Any] = HOUSES, version: int = 1, **extra: Any
) -> DatasetRegistered:
    spec = DatasetSchema.model_validate({**schema, "version": version})
    return DatasetRegistered(producer="test", dataset=spec.name, dataset_schema=spec, **extra)


def evolved(*added: dict[str, Any]) -> dict[str, Any]:
    return {**HOUSES, "features": [*HOUSES["features"], *added]}


# ---------------------------------------------------------------------------- decisions


def test_a_new_dataset_is_registered_at_version_1_whatever_version_it_names() -> None:
    decision = decide_registration(None, request({**HOUSES, "version": 7}))
    assert isinstance(decision, Register) and decision.change == "new"
    assert decision.event.dataset == "houses" and decision.event.dataset_schema.version == 1


def test_the_same_schema_again_changes_nothing() -> None:
    current = registered(version=3)
    decision = decide_registration(current, request())
    assert decision == Unchanged(current)


def test_features_added_with_a_default_make_the_next_version() -> None:
    decision = decide_registration(registered(version=2), request(evolved(GARDEN)))
    assert isinstance(decision, Register) and decision.change == "evolved"
    assert decision.event.dataset_schema.version == 3
    assert decision.event.dataset_schema.feature_names[-1] == "garden"


def test_a_change_that_is_not_additive_is_refused_with_the_reason() -> None:
    without_default = {"name": "garden", "kind": "numeric"}
    decision = decide_registration(registered(), request(evolved(without_default)))
    assert isinstance(decision, Refused)
    assert "added features need a default: ['garden']" in decision.reason


def test_new_settings_on_the_same_schema_re_register_the_same_version() -> None:
    decision = decide_registration(
        registered(version=2), request(monitoring={"alpha": 0.05}, training={"family": "logistic"})
    )
    assert isinstance(decision, Register) and decision.change == "updated"
    assert decision.event.dataset_schema.version == 2
    assert decision.event.monitoring == {"alpha": 0.05}
    assert decision.event.training == TrainingSpec(family="logistic")


def test_settings_left_out_keep_the_registered_ones() -> None:
    current = registered(monitoring={"alpha": 0.05}, training=TrainingSpec(family="logistic"))
    assert decide_registration(current, request()) == Unchanged(current)
    decision = decide_registration(current, request(evolved(GARDEN)))
    assert isinstance(decision, Register)
    assert decision.event.monitoring == {"alpha": 0.05} and decision.event.training is not None


def test_monitoring_overrides_refuse_unknown_keys_and_values_out_of_bounds() -> None:
    with pytest.raises(ValidationError, match="windw"):
        MonitoringOverrides.model_validate({"windw": 50})
    with pytest.raises(ValidationError, match="window_size"):
        MonitoringOverrides.model_validate({"window_size": 5})
    assert MonitoringOverrides(window_size=100).given() == {"window_size": 100}


# -------------------------------------------------------------------------------- seeds


class FakeRegistry:
    """Registers through the same decision as ingest, in memory."""

    def __init__(self) -> None:
        self.current: dict[str, DatasetRegistered] = {}

    async def register(self, req: RegistrationIn) -> Registered:
        decision = decide_registration(self.current.get(req.dataset_schema.name), req)
        if isinstance(decision, Refused):
            raise Conflict(decision.reason)
        if isinstance(decision, Unchanged):
            return Registered(decision.registration, "unchanged")
        self.current[decision.event.dataset] = decision.event
        return Registered(decision.event, decision.change)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    (path := directory / name).write_text(text)
    return path


async def test_bad_schema_files_are_skipped_with_their_path_and_the_rest_registered(
    tmp_path: Path,
) -> None:
    registry = FakeRegistry()
    good = DatasetSchema.model_validate(HOUSES).model_dump_json()
    write(tmp_path, "a.json", good)
    broken = write(tmp_path, "b.json", "{")
    dotted = write(tmp_path, "c.json", good.replace('"houses"', '"my.houses"'))
    classless = write(tmp_path, "d.json", good.replace('"regression"', '"classification"'))
    skipped = await register_seeds(tmp_path, registry.register)
    assert list(registry.current) == ["houses"]
    reasons = {s.path: s.reason for s in skipped}
    assert list(reasons) == [broken, dotted, classless]
    assert reasons[broken].startswith("not JSON")
    assert reasons[dotted].startswith("name: String should match pattern")
    assert "needs `classes`" in reasons[classless]


async def test_a_seed_that_is_not_additive_is_skipped_and_the_registration_kept(
    tmp_path: Path,
) -> None:
    registry = FakeRegistry()
    await registry.register(request())
    other = {**HOUSES, "features": [{"name": "rooms", "kind": "categorical"}]}
    path = write(tmp_path, "houses.json", DatasetSchema.model_validate(other).model_dump_json())
    (skipped,) = await register_seeds(tmp_path, registry.register)
    assert skipped.path == path and "feature 'rooms'" in skipped.reason
    assert registry.current["houses"].dataset_schema.features[0].kind == "numeric"


async def test_a_seed_file_may_hold_a_whole_registration(tmp_path: Path) -> None:
    registry = FakeRegistry()
    body = {"schema": HOUSES, "monitoring": {"alpha": 0.02}}
    write(tmp_path, "h.json", json.dumps(body))
    assert await register_seeds(tmp_path, registry.register) == []
    assert registry.current["houses"].monitoring == {"alpha": 0.02}


async def test_a_missing_seed_directory_registers_nothing(tmp_path: Path) -> None:
    assert await register_seeds(tmp_path / "none", FakeRegistry().register) == []


# ------------------------------------------------------------------------- live schemas


def test_live_schemas_take_newer_versions_and_ignore_older_ones() -> None:
    schemas = Schemas()
    assert schemas.apply(registered(evolved(GARDEN), version=2))
    assert not schemas.apply(registered(version=1))
    assert schemas.get("houses").version == 2


def test_an_unknown_dataset_says_how_to_register_it() -> None:
    with pytest.raises(NotFound, match="POST /v1/datasets"):
        Schemas().get("houses")


def test_a_row_without_a_feature_added_later_gets_its_default() -> None:
    schema = DatasetSchema.model_validate(evolved(GARDEN))
    assert validate_features(schema, {"rooms": 3, "city": "x"})["garden"] == 0
    with pytest.raises(RowError, match="missing feature 'rooms'"):
        validate_features(schema, {"city": "x"})


# ------------------------------------------------------- records older than the schema


EVOLVED = DatasetSchema.model_validate(
    evolved(GARDEN, {"name": "pool", "kind": "categorical", "default": "none"})
)


def validated(*rows: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    candidates = Candidates(list(rows), ["1.0"] * len(rows), [None] * len(rows))
    valid, rejected = validate(EVOLVED, candidates)
    return [r.features for r in valid.rows()], [r.reason for r in rejected]


def test_a_batch_of_rows_older_than_the_schema_gets_the_defaults() -> None:
    rows, rejected = validated({"rooms": 3, "city": "x"}, {"rooms": 4, "city": "y"})
    assert rejected == []
    assert rows[1] == {"rooms": 4.0, "city": "y", "garden": 0.0, "pool": "none"}


def test_old_and_new_rows_mixed_each_get_what_they_lack() -> None:
    rows, rejected = validated(
        {"rooms": 3, "city": "x", "garden": 2, "pool": "yes"},
        {"rooms": 3, "city": "x", "garden": 5},
        {"rooms": 3, "city": "x"},
    )
    assert rejected == []
    assert [(r["garden"], r["pool"]) for r in rows] == [(2.0, "yes"), (5.0, "none"), (0.0, "none")]


def test_a_row_missing_a_feature_without_default_or_with_an_unknown_one_is_rejected() -> None:
    rows, rejected = validated({"city": "x"}, {"rooms": 3, "town": "x"}, {"rooms": 3, "city": "x"})
    assert len(rows) == 1
    assert "missing feature 'rooms'" in rejected[0]
    assert "unknown feature(s) ['town']" in rejected[1]


async def test_a_registration_while_redis_is_unreachable_is_not_ready_and_says_so() -> None:
    bus = Bus(IngestSettings(redis_url="redis://127.0.0.1:1/0", namespace="nowhere"))
    schemas = Schemas()
    with pytest.raises(NotReady, match="nothing was registered"):
        await Registrar(bus, schemas).register(request())
    assert schemas.registrations() == []
    await bus.redis.aclose()
