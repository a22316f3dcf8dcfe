"""The registry's SQLite: versions and decisions, the histories applied from its own streams,
and the read side that answers over HTTP."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from driftloop_contracts import Metrics, ModelPromoted, RolloutChanged
from driftloop_core import NotFound
from driftloop_registry import projection
from driftloop_registry.db import Database
from driftloop_registry.projection import Position
from driftloop_registry.queries import Queries
from driftloop_registry.repository import DecisionRecord, Repository

from tests.support.events import completed


def promoted(version: int, dataset: str = "demo", **changes: Any) -> ModelPromoted:
    run = completed(dataset)
    fields: dict[str, Any] = {
        "producer": "registry",
        "dataset": dataset,
        "model_version": version,
        "previous_version": None,
        "reason": "gate",
        "artifact": run.artifact,
        "profile": run.profile,
        "metrics": run.metrics,
        "dataset_schema": run.dataset_schema,
    }
    return ModelPromoted(**(fields | changes))


def rollout(version: int, stage: str = "canary", outcome: str = "started") -> RolloutChanged:
    run = completed()
    return RolloutChanged(
        producer="registry",
        dataset="demo",
        stage=stage,
        outcome=outcome,
        model_version=version,
        share=0.25 if stage == "canary" else 0.0,
        artifact=run.artifact,
        profile=run.profile,
        metrics=run.metrics,
        dataset_schema=run.dataset_schema,
    )


def decision(promote: bool, reason: str = "because") -> DecisionRecord:
    return DecisionRecord(
        promote=promote,
        reason=reason,
        candidate=Metrics(accuracy=0.8, f1_macro=0.75, rows=200),
        champion=None,
        champion_version=None,
    )


@pytest.fixture
def db() -> Database:
    return Database(":memory:")


@pytest.fixture
def repo(db: Database) -> Repository:
    return Repository(db)


@pytest.fixture
def read(db: Database) -> Queries:
    return Queries(db)


def apply(repo: Repository, event: ModelPromoted | RolloutChanged, entry_id: str) -> None:
    """What the registry's consumer does with one entry of its own streams."""
    at = Position.parse(entry_id)
    with repo.db.transaction() as db:
        applied = repo.applied(db, event)
        if isinstance(event, ModelPromoted):
            repo.apply(db, projection.promotion_applied(applied, event, at))
        else:
            repo.apply(db, projection.rollout_applied(applied, event, at))


def statuses(read: Queries, dataset: str = "demo") -> dict[int, str]:
    return {v.version: v.status for v in read.versions(dataset)}


# ------------------------------------------------------------------------------ register


def test_register_records_a_candidate_with_its_training_event(repo: Repository) -> None:
    event = completed()

    row = repo.register(event)

    assert (row.dataset, row.version, row.status) == ("demo", 1, "candidate")
    assert row.run_id == str(event.run_id)
    assert row.decision is None
    assert row.training == event
    assert row.created_at.tzinfo is not None


def test_register_is_idempotent_on_run_id(repo: Repository, read: Queries) -> None:
    event = completed()

    first = repo.register(event)
    again = repo.register(event)

    assert again == first
    assert len(read.versions("demo")) == 1


def test_a_redelivered_event_with_a_new_event_id_is_still_the_same_run(
    repo: Repository, read: Queries
) -> None:
    event = completed()
    redelivered = completed(run_id=event.run_id)

    repo.register(event)
    row = repo.register(redelivered)

    assert row.version == 1
    assert row.training.event_id == event.event_id
    assert len(read.versions()) == 1


def test_versions_increase_per_dataset(repo: Repository, read: Queries) -> None:
    events = [completed("demo"), completed("loans"), completed("demo"), completed("demo")]

    versions = [(e.dataset, repo.register(e).version) for e in events]

    assert versions == [("demo", 1), ("loans", 1), ("demo", 2), ("demo", 3)]
    assert [(v.dataset, v.version) for v in read.versions()] == [
        ("demo", 1),
        ("demo", 2),
        ("demo", 3),
        ("loans", 1),
    ]


def test_get_finds_a_version_and_returns_none_for_an_unknown_one(repo: Repository) -> None:
    event = completed()
    repo.register(event)

    found = repo.get("demo", 1)

    assert found is not None and found.training.run_id == event.run_id
    assert repo.get("demo", 2) is None
    assert repo.get("loans", 1) is None


def test_versions_survive_reopening_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "registry.db"
    event = completed()
    Repository(path).register(event)

    reopened = Repository(path)

    row = reopened.get("demo", 1)
    assert row is not None and row.training == event


# ------------------------------------------------------------------------------ decisions


def test_a_rejection_is_stored_with_its_decision(repo: Repository) -> None:
    repo.register(completed())

    repo.record_decision("demo", 1, decision(False, "accuracy 0.500 is below the floor 0.600"))

    row = repo.get("demo", 1)
    assert row is not None and row.status == "rejected"
    assert row.decision is not None
    assert not row.decision.promote
    assert row.decision.reason == "accuracy 0.500 is below the floor 0.600"


def test_a_decision_to_promote_leaves_a_candidate_until_its_promotion_is_applied(
    repo: Repository, read: Queries
) -> None:
    repo.register(completed())

    repo.record_decision("demo", 1, decision(True, "first model"))

    assert statuses(read) == {1: "candidate"}
    with pytest.raises(NotFound, match="no promoted model yet"):
        read.champion("demo")
    apply(repo, promoted(1), "10-0")
    assert read.champion("demo").version == 1


# ---------------------------------------------------------------- the promotion history


def test_a_promotion_makes_exactly_one_champion_and_retires_the_previous_one(
    repo: Repository, read: Queries
) -> None:
    for _ in range(3):
        repo.register(completed())

    apply(repo, promoted(1), "10-0")
    assert statuses(read) == {1: "champion", 2: "candidate", 3: "candidate"}

    apply(repo, promoted(2, previous_version=1), "11-0")
    assert statuses(read) == {1: "retired", 2: "champion", 3: "candidate"}


def test_promotions_are_recorded_in_stream_order(repo: Repository, read: Queries) -> None:
    for _ in range(2):
        repo.register(completed())
    first, second = promoted(1), promoted(2, previous_version=1, reason="manual", actor="alice")
    back = promoted(1, previous_version=2, reason="rollback", actor="alice")

    for event, entry in ((first, "10-0"), (second, "10-1"), (back, "12-0")):
        apply(repo, event, entry)

    history = read.promotions("demo")
    assert [(p.version, p.reason, p.stream_id) for p in history] == [
        (1, "gate", "10-0"),
        (2, "manual", "10-1"),
        (1, "rollback", "12-0"),
    ]
    assert history[1].actor == "alice"
    assert repo.promoted_versions("demo") == [1, 2, 1]
    assert statuses(read) == {1: "champion", 2: "retired"}


def test_a_promotion_applied_after_a_later_one_joins_the_history_but_does_not_crown(
    repo: Repository, read: Queries
) -> None:
    for _ in range(2):
        repo.register(completed())

    apply(repo, promoted(2), "20-0")
    apply(repo, promoted(1), "10-0")  # a retried entry, delivered late

    assert statuses(read) == {1: "retired", 2: "champion"}
    assert [p.version for p in read.promotions("demo")] == [1, 2]


def test_the_same_promotion_applied_twice_is_recorded_once_and_changes_nothing(
    repo: Repository, read: Queries
) -> None:
    for _ in range(2):
        repo.register(completed())
    first, second = promoted(1), promoted(2, previous_version=1)
    apply(repo, first, "10-0")
    apply(repo, second, "11-0")

    apply(repo, first, "12-0")  # the same event again, e.g. replayed from a dead-letter stream

    assert [p.version for p in read.promotions("demo")] == [1, 2]
    assert statuses(read) == {1: "retired", 2: "champion"}


def test_champions_are_kept_per_dataset(repo: Repository, read: Queries) -> None:
    repo.register(completed("demo"))
    repo.register(completed("loans"))

    apply(repo, promoted(1, "demo"), "10-0")
    apply(repo, promoted(1, "loans"), "5-0")

    assert read.champion("demo").dataset == "demo"
    assert read.champion("loans").dataset == "loans"
    assert [p.dataset for p in read.promotions("loans")] == ["loans"]


def test_a_promotion_of_an_unknown_version_is_recorded_without_crowning_anything(
    repo: Repository, read: Queries
) -> None:
    repo.register(completed())

    apply(repo, promoted(7), "10-0")

    assert statuses(read) == {1: "candidate"}
    assert [p.version for p in read.promotions("demo")] == [7]


def test_a_failed_transaction_leaves_no_trace(repo: Repository, read: Queries) -> None:
    repo.register(completed())

    def apply_then_fail() -> None:
        with repo.db.transaction() as db:
            at = Position(10, 0)
            effects = projection.promotion_applied(repo.applied(db, promoted(1)), promoted(1), at)
            repo.apply(db, effects)
            raise RuntimeError("the commit failed")

    with pytest.raises(RuntimeError, match="the commit failed"):
        apply_then_fail()

    assert statuses(read) == {1: "candidate"}
    assert read.promotions("demo") == []


# ------------------------------------------------------------------ the rollout history


def test_the_latest_rollout_change_is_the_rollout_in_progress(
    repo: Repository, read: Queries
) -> None:
    apply(repo, rollout(2, "canary"), "10-0")
    assert (read.rollout("demo").stage, read.rollout("demo").share) == ("canary", 0.25)

    apply(repo, rollout(2, "shadow", "changed"), "11-0")
    assert read.rollout("demo").stage == "shadow"

    apply(repo, rollout(2, "ended", "aborted"), "12-0")
    with pytest.raises(NotFound, match="no rollout in progress"):
        read.rollout("demo")


def test_a_rollout_change_applied_late_does_not_restart_an_ended_rollout(
    repo: Repository, read: Queries
) -> None:
    apply(repo, rollout(2, "ended", "promoted"), "20-0")
    apply(repo, rollout(2, "canary"), "10-0")

    with pytest.raises(NotFound):
        read.rollout("demo")


# ---------------------------------------------------------------------- the read side


def test_a_version_is_read_with_its_metrics_params_decision_and_artifact(
    repo: Repository, read: Queries
) -> None:
    event = completed(accuracy=0.8)
    repo.register(event)
    repo.record_decision("demo", 1, decision(True, "first model"))

    out = read.version("demo", 1)

    assert (out.version, out.status, out.trigger) == (1, "candidate", "initial")
    assert out.metrics.accuracy == 0.8 and out.params == {"C": 1.0}
    assert out.decision is not None and out.decision.reason == "first model"
    assert out.artifact == event.artifact
    assert out.run_id == event.run_id


def test_the_lineage_of_a_version_lists_its_run_data_decision_and_promotions(
    repo: Repository, read: Queries
) -> None:
    event = completed()
    repo.register(event)
    apply(repo, promoted(1), "10-0")

    lineage = read.lineage("demo", 1)

    assert lineage.run_id == event.run_id
    assert lineage.dataset_versions == ["0123456789abcdef"]
    assert lineage.holdout == event.holdout
    assert [p.stream_id for p in lineage.promotions] == ["10-0"]


def test_asking_for_an_unknown_version_or_dataset_is_a_not_found(read: Queries) -> None:
    with pytest.raises(NotFound, match="no version 3 of dataset 'demo'"):
        read.lineage("demo", 3)
    with pytest.raises(NotFound, match="no promoted model yet"):
        read.champion("unknown")
    assert read.promotions("unknown") == []


# ------------------------------------------------------------------------- migrations


def test_a_file_from_before_the_registry_followed_its_streams_is_migrated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE promotions (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL,
            version INTEGER NOT NULL, previous_version INTEGER, reason TEXT NOT NULL,
            actor TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, correlation_id TEXT NOT NULL,
            at TEXT NOT NULL);
        CREATE TABLE rollouts (dataset TEXT PRIMARY KEY, stage TEXT NOT NULL,
            model_version INTEGER NOT NULL, share REAL NOT NULL, actor TEXT NOT NULL,
            started_at TEXT NOT NULL);
        INSERT INTO promotions VALUES (1, 'demo', 1, NULL, 'gate', 'registry',
            '8a3c1f0e-0000-4000-8000-000000000001', '8a3c1f0e-0000-4000-8000-000000000001',
            '2026-01-01T00:00:00+00:00');
        INSERT INTO rollouts VALUES ('demo', 'canary', 2, 0.1, 'admin',
            '2026-01-02T00:00:00+00:00');
        """
    )
    old.close()
    db = Database(path)
    repo, read = Repository(db), Queries(db)

    apply(repo, promoted(2, previous_version=1), "10-0")

    assert [(p.version, p.stream_id) for p in read.promotions("demo")] == [(1, None), (2, "10-0")]
    assert (read.rollout("demo").model_version, read.rollout("demo").share) == (2, 0.1)
