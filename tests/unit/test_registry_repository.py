"""The registry's SQLite repository: versions, the one champion, the promotion history."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from driftloop_contracts import BlobRef, DatasetSchema, Metrics, TrainingCompleted, utcnow
from driftloop_registry.repository import Promotion, Repository
from driftloop_sdk.scenario import CreditScenario

SCHEMA: DatasetSchema = CreditScenario.schema


def blob(kind: str, content: str) -> BlobRef:
    sha = hashlib.sha256(content.encode()).hexdigest()
    return BlobRef(key=f"{kind}/{sha[:2]}/{sha}", sha256=sha, size=len(content))


def completed(dataset: str = "demo", accuracy: float = 0.8, **changes: Any) -> TrainingCompleted:
    run_id = changes.pop("run_id", uuid.uuid4())
    fields: dict[str, Any] = {
        "producer": "trainer",
        "run_id": run_id,
        "dataset": dataset,
        "trigger": "initial",
        "artifact": blob("models", f"model {run_id}"),
        "profile": blob("profiles", f"profile {run_id}"),
        "holdout": blob("holdouts", f"holdout {run_id}"),
        "metrics": Metrics(accuracy=accuracy, f1_macro=accuracy - 0.05, rows=200),
        "params": {"C": 1.0},
        "seed": 42,
        "library_versions": {"python": "3.11.9", "scikit-learn": "1.6.1"},
        "dataset_versions": ("0123456789abcdef",),
        "training_rows": 800,
        "dataset_schema": SCHEMA.model_copy(update={"name": dataset}),
    }
    fields.update(changes)
    return TrainingCompleted(**fields)


def promotion(
    version: int, previous: int | None = None, dataset: str = "demo", **changes: Any
) -> Promotion:
    event_id = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "dataset": dataset,
        "version": version,
        "previous_version": previous,
        "reason": "gate",
        "actor": "registry",
        "event_id": event_id,
        "correlation_id": event_id,
        "at": utcnow().isoformat(),
    }
    fields.update(changes)
    return Promotion(**fields)


@pytest.fixture
def repo() -> Repository:
    return Repository(":memory:")


def crown(repo: Repository, p: Promotion) -> None:
    with repo.transaction() as db:
        repo.crown(db, p)


def statuses(repo: Repository, dataset: str = "demo") -> dict[int, str]:
    return {row.version: row.status for row in repo.versions(dataset)}


# ------------------------------------------------------------------------------ register


def test_register_records_a_candidate_with_its_training_event(repo: Repository) -> None:
    event = completed()

    row = repo.register(event)

    assert row.dataset == "demo"
    assert row.version == 1
    assert row.run_id == str(event.run_id)
    assert row.status == "candidate"
    assert row.decision is None
    assert row.training == event
    assert row.created_at.tzinfo is not None


def test_register_is_idempotent_on_run_id(repo: Repository) -> None:
    event = completed()

    first = repo.register(event)
    again = repo.register(event)

    assert again == first
    assert len(repo.versions("demo")) == 1


def test_a_redelivered_event_with_a_new_event_id_is_still_the_same_run(
    repo: Repository,
) -> None:
    event = completed()
    redelivered = completed(run_id=event.run_id)

    repo.register(event)
    row = repo.register(redelivered)

    assert row.version == 1
    assert row.training.event_id == event.event_id
    assert len(repo.versions()) == 1


def test_versions_increase_per_dataset(repo: Repository) -> None:
    versions = [
        (e.dataset, repo.register(e).version)
        for e in [completed("demo"), completed("loans"), completed("demo"), completed("demo")]
    ]

    assert versions == [("demo", 1), ("loans", 1), ("demo", 2), ("demo", 3)]
    assert [(r.dataset, r.version) for r in repo.versions()] == [
        ("demo", 1),
        ("demo", 2),
        ("demo", 3),
        ("loans", 1),
    ]


def test_get_finds_a_version_and_returns_none_for_an_unknown_one(repo: Repository) -> None:
    event = completed()
    repo.register(event)

    found = repo.get("demo", 1)
    assert found is not None
    assert found.training.run_id == event.run_id
    assert repo.get("demo", 2) is None
    assert repo.get("loans", 1) is None


def test_the_public_view_of_a_version_carries_metrics_params_and_decision(
    repo: Repository,
) -> None:
    row = repo.register(completed(accuracy=0.8))

    public = row.public()

    assert public["version"] == 1
    assert public["status"] == "candidate"
    assert public["trigger"] == "initial"
    assert public["metrics"]["accuracy"] == 0.8
    assert public["params"] == {"C": 1.0}
    assert public["decision"] is None


def test_versions_survive_reopening_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "registry.db"
    event = completed()
    Repository(path).register(event)

    reopened = Repository(path)

    row = reopened.get("demo", 1)
    assert row is not None
    assert row.training == event


# -------------------------------------------------------------------------------- decide


def test_decide_stores_a_rejection_with_its_decision(repo: Repository) -> None:
    repo.register(completed())
    decision = {"promote": False, "reason": "accuracy 0.500 is below the floor 0.600"}

    with repo.transaction() as db:
        repo.decide(db, "demo", 1, False, decision)

    row = repo.get("demo", 1)
    assert row is not None
    assert row.status == "rejected"
    assert row.decision == decision
    assert repo.champion("demo") is None


def test_decide_to_promote_makes_the_version_champion(repo: Repository) -> None:
    repo.register(completed())
    decision = {"promote": True, "reason": "first model", "champion_version": None}

    with repo.transaction() as db:
        repo.decide(db, "demo", 1, True, decision)

    champion = repo.champion("demo")
    assert champion is not None
    assert champion.version == 1
    assert champion.decision == decision


def test_a_failed_transaction_leaves_no_trace(repo: Repository) -> None:
    repo.register(completed())

    def promote_then_fail_to_publish() -> None:
        with repo.transaction() as db:
            repo.decide(db, "demo", 1, True, {"promote": True})
            repo.crown(db, promotion(1))
            raise RuntimeError("publishing failed")

    with pytest.raises(RuntimeError, match="publishing failed"):
        promote_then_fail_to_publish()

    assert statuses(repo) == {1: "candidate"}
    assert repo.get("demo", 1).decision is None  # type: ignore[union-attr]
    assert repo.promotions("demo") == []


# --------------------------------------------------------------------------------- crown


def test_crown_makes_exactly_one_champion_and_retires_the_previous_one(
    repo: Repository,
) -> None:
    for _ in range(3):
        repo.register(completed())

    crown(repo, promotion(1))
    assert statuses(repo) == {1: "champion", 2: "candidate", 3: "candidate"}

    crown(repo, promotion(2, previous=1))
    assert statuses(repo) == {1: "retired", 2: "champion", 3: "candidate"}

    champion = repo.champion("demo")
    assert champion is not None
    assert champion.version == 2


def test_crown_after_decide_leaves_one_champion(repo: Repository) -> None:
    repo.register(completed())
    repo.register(completed())
    crown(repo, promotion(1))

    with repo.transaction() as db:  # what the gate does for a winning candidate
        repo.decide(db, "demo", 2, True, {"promote": True})
        repo.crown(db, promotion(2, previous=1))

    assert statuses(repo) == {1: "retired", 2: "champion"}


def test_crown_records_each_promotion_in_order(repo: Repository) -> None:
    for _ in range(2):
        repo.register(completed())
    first, second = promotion(1), promotion(2, previous=1, reason="manual", actor="alice")
    rollback = promotion(1, previous=2, reason="rollback", actor="alice")

    for p in (first, second, rollback):
        crown(repo, p)

    assert repo.promotions("demo") == [first, second, rollback]
    assert statuses(repo) == {1: "champion", 2: "retired"}


def test_crowning_the_same_promotion_twice_records_it_once(repo: Repository) -> None:
    repo.register(completed())
    p = promotion(1)

    crown(repo, p)
    crown(repo, p)

    assert repo.promotions("demo") == [p]


def test_champions_are_kept_per_dataset(repo: Repository) -> None:
    repo.register(completed("demo"))
    repo.register(completed("loans"))

    on_demo, on_loans = promotion(1, dataset="demo"), promotion(1, dataset="loans")
    crown(repo, on_demo)
    crown(repo, on_loans)

    demo, loans = repo.champion("demo"), repo.champion("loans")
    assert demo is not None
    assert loans is not None
    assert (demo.dataset, loans.dataset) == ("demo", "loans")
    assert repo.promotions("demo") == [on_demo]
    assert repo.promotions("loans") == [on_loans]


def test_a_dataset_without_a_champion_has_none(repo: Repository) -> None:
    repo.register(completed())

    assert repo.champion("demo") is None
    assert repo.champion("unknown") is None
    assert repo.promotions("demo") == []
