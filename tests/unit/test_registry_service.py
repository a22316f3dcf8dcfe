"""The registry's decisions with in-memory fakes: the gate judges against the serving state,
admin actions only publish, and SQLite changes only when the registry's own streams come back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from driftloop_bus import Delivery, Keys, Output, PermanentError, Publish, RedisWrite, serving
from driftloop_contracts import (
    Event,
    Metrics,
    ModelPromoted,
    ModelRejected,
    RolloutChanged,
    TrainingCompleted,
)
from driftloop_core import Conflict, NotFound, NotReady
from driftloop_core.signing import Signer, check_decision, generate
from driftloop_registry.db import Database
from driftloop_registry.projection import Position
from driftloop_registry.queries import Queries
from driftloop_registry.repository import DecisionRecord, Repository
from driftloop_registry.service import RegistryService
from driftloop_registry.truth import RedisServingTruth, UnreadableServingState

from tests.support.events import completed
from tests.support.signing import signer, verifier

KEYS = Keys("t:")


class FakeRedis:
    """The serving-state hashes: written through pipelines, read back by the truth."""

    def __init__(self) -> None:
        self.hashes: dict[str, dict[str, bytes]] = {}

    def hset(self, key: str, field: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        self.hashes.setdefault(key, {})[field] = data

    def hdel(self, key: str, field: str) -> None:
        self.hashes.get(key, {}).pop(field, None)

    async def hget(self, key: str, field: str) -> bytes | None:
        return self.hashes.get(key, {}).get(field)


class FakeStreams:
    """Commits like the bus (all or nothing) and numbers entries like Redis."""

    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.entries: list[tuple[str, Event, Position]] = []
        self.fail = False

    async def commit(self, outputs: Sequence[Output]) -> None:
        if self.fail:
            raise ConnectionError("Redis is down")
        for item in outputs:
            if isinstance(item, Publish):
                at = Position(1000 + len(self.entries), 0)
                self.entries.append((item.stream.name, item.event, at))
            elif isinstance(item, RedisWrite):
                item.apply(self.redis)

    def published(self, event_type: type[Event] = Event) -> list[Any]:
        return [e for _, e, _ in self.entries if isinstance(e, event_type)]

    def own(self) -> list[tuple[ModelPromoted | RolloutChanged, Position]]:
        return [
            (e, at) for _, e, at in self.entries if isinstance(e, ModelPromoted | RolloutChanged)
        ]


class Judged:
    """A judge that decides as told and remembers which champion it was shown."""

    def __init__(self, promote: bool = True) -> None:
        self.promote = promote
        self.shown: list[ModelPromoted | None] = []

    def __call__(self, run: TrainingCompleted, champion: ModelPromoted | None) -> DecisionRecord:
        self.shown.append(champion)
        return DecisionRecord(
            promote=self.promote,
            reason="as told",
            candidate=run.metrics,
            champion=Metrics(accuracy=0.7, f1_macro=0.7, rows=200) if champion else None,
            champion_version=champion.model_version if champion else None,
        )


class Registry:
    """The service wired to fakes, and what a test needs to look at."""

    def __init__(self, promote: bool = True) -> None:
        self.db = Database(":memory:")
        self.read = Queries(self.db)
        self.redis = FakeRedis()
        self.streams = FakeStreams(self.redis)
        self.judge = Judged(promote)
        self.service = RegistryService(
            Repository(self.db),
            self.judge,
            RedisServingTruth(self.redis, KEYS, verifier()),  # type: ignore[arg-type]
            KEYS,
            self.streams.commit,
            signer=signer(),
            trainer=verifier("trainer"),
            read_side_wait_s=0,
        )
        self.delivered = 0

    async def train(self, run: TrainingCompleted) -> None:
        await self.streams.commit(await self.service.on_training_completed(run))

    def deliver(self) -> None:
        """The registry's consumer of its own streams catches up."""
        pending = self.streams.own()[self.delivered :]
        self.service.apply([e for e, _ in pending], [at for _, at in pending])
        self.delivered += len(pending)

    def statuses(self) -> dict[int, str]:
        return {v.version: v.status for v in self.read.versions("demo")}


@pytest.fixture
def registry() -> Registry:
    return Registry()


# ---------------------------------------------------------------------------- the gate


async def test_the_gate_judges_against_the_champion_the_serving_state_names(
    registry: Registry,
) -> None:
    await registry.train(completed())
    # v1's promotion is published, but the registry's consumer has not applied it yet.
    assert registry.statuses() == {1: "candidate"}

    await registry.train(completed())

    shown = registry.judge.shown[-1]
    assert shown is not None and shown.model_version == 1
    (_, second) = registry.streams.published(ModelPromoted)
    assert (second.model_version, second.previous_version) == (2, 1)


async def test_a_promotion_by_the_gate_reaches_sqlite_only_through_the_stream(
    registry: Registry,
) -> None:
    await registry.train(completed())
    assert registry.statuses() == {1: "candidate"}
    assert registry.read.version("demo", 1).decision.promote  # type: ignore[union-attr]

    registry.deliver()

    assert registry.statuses() == {1: "champion"}
    assert [p.reason for p in registry.read.promotions("demo")] == ["gate"]


async def test_a_rejection_names_the_run_and_why_it_was_trained() -> None:
    registry = Registry(promote=False)
    run = completed(trigger="drift")

    await registry.train(run)

    (rejected,) = registry.streams.published(ModelRejected)
    assert (rejected.run_id, rejected.trigger) == (run.run_id, "drift")
    assert registry.statuses() == {1: "rejected"}


async def test_a_redelivered_training_event_is_judged_once_and_announced_identically(
    registry: Registry,
) -> None:
    run = completed()

    first = await registry.service.on_training_completed(run)
    again = await registry.service.on_training_completed(run)

    assert len(registry.judge.shown) == 1
    assert [o.event.event_id for o in first if isinstance(o, Publish)] == [
        o.event.event_id for o in again if isinstance(o, Publish)
    ]


async def test_an_unreadable_serving_state_fails_the_delivery_rather_than_judge_blind(
    registry: Registry,
) -> None:
    registry.redis.hset(serving.champions_key(KEYS), "demo", b"not json")

    with pytest.raises(UnreadableServingState, match="is not a ModelPromoted"):
        await registry.service.on_training_completed(completed())


# ------------------------------------------------------------------------ admin actions


async def two_versions(registry: Registry) -> None:
    await registry.train(completed())
    registry.judge.promote = False
    await registry.train(completed())
    registry.deliver()


async def test_a_promotion_by_hand_only_publishes_until_the_stream_comes_back(
    registry: Registry,
) -> None:
    await two_versions(registry)

    done = await registry.service.promote("demo", 2, "admin")

    assert (done.version, done.previous_version, done.reason) == (2, 1, "manual")
    assert done.recorded is False  # nothing applied it yet
    assert registry.statuses() == {1: "champion", 2: "rejected"}
    champion = await registry.service.truth.champion("demo")
    assert champion is not None and champion.model_version == 2
    registry.deliver()
    assert registry.statuses() == {1: "retired", 2: "champion"}


async def test_promoting_the_version_that_serves_is_a_conflict_and_an_unknown_one_not_found(
    registry: Registry,
) -> None:
    await two_versions(registry)

    with pytest.raises(Conflict, match="already serves"):
        await registry.service.promote("demo", 1, "admin")
    with pytest.raises(NotFound, match="no version 9"):
        await registry.service.promote("demo", 9, "admin")
    assert len(registry.streams.published(ModelPromoted)) == 1


async def test_an_action_decides_against_the_serving_state_even_before_sqlite_caught_up(
    registry: Registry,
) -> None:
    await two_versions(registry)
    await registry.service.promote("demo", 2, "admin")  # not delivered yet

    with pytest.raises(Conflict, match="version 2 already serves"):
        await registry.service.promote("demo", 2, "admin")


async def test_rollback_serves_again_the_version_promoted_before_the_current_one(
    registry: Registry,
) -> None:
    await two_versions(registry)
    await registry.service.promote("demo", 2, "admin")
    registry.deliver()

    back = await registry.service.roll_back("demo", "admin")

    assert (back.version, back.previous_version, back.reason) == (1, 2, "rollback")
    registry.deliver()
    assert registry.statuses() == {1: "champion", 2: "retired"}
    assert [p.version for p in registry.read.promotions("demo")] == [1, 2, 1]


async def test_rollback_needs_an_earlier_promotion(registry: Registry) -> None:
    with pytest.raises(NotFound, match="no champion to roll back from"):
        await registry.service.roll_back("demo", "admin")
    await registry.train(completed())
    registry.deliver()
    with pytest.raises(Conflict, match="the only one ever promoted"):
        await registry.service.roll_back("demo", "admin")


async def test_a_canary_then_its_promotion_publish_the_promotion_before_the_rollout_end(
    registry: Registry,
) -> None:
    await two_versions(registry)

    started = await registry.service.start_rollout("demo", 2, "canary", 0.3, "admin")
    ended = await registry.service.end_rollout("demo", promote=True, actor="admin")

    assert (started.stage, started.outcome, started.share) == ("canary", "started", 0.3)
    assert (ended.outcome, ended.promoted_version) == ("promoted", 2)
    kinds = [type(e).__name__ for _, e, _ in registry.streams.entries[-3:]]
    assert kinds == ["RolloutChanged", "ModelPromoted", "RolloutChanged"]
    registry.deliver()
    assert registry.statuses()[2] == "champion"
    with pytest.raises(NotFound):
        registry.read.rollout("demo")


async def test_a_second_rollout_call_for_the_same_version_is_a_change(
    registry: Registry,
) -> None:
    await two_versions(registry)
    await registry.service.start_rollout("demo", 2, "canary", 0.3, "admin")

    shadow = await registry.service.start_rollout("demo", 2, "shadow", 0.0, "admin")

    assert (shadow.stage, shadow.outcome, shadow.share) == ("shadow", "changed", 0.0)


async def test_an_action_that_cannot_publish_changes_nothing(registry: Registry) -> None:
    await two_versions(registry)
    registry.streams.fail = True

    with pytest.raises(NotReady, match="nothing changed"):
        await registry.service.promote("demo", 2, "admin")

    champion = await registry.service.truth.champion("demo")
    assert champion is not None and champion.model_version == 1


# ------------------------------------------------------------------- the projection


async def test_promotions_delivered_out_of_order_end_with_the_stream_order(
    registry: Registry,
) -> None:
    await two_versions(registry)
    await registry.service.promote("demo", 2, "admin")
    await registry.service.roll_back("demo", "admin")
    (first, p1), (manual, p2), (back, p3) = registry.streams.own()

    registry.service.apply([back], [p3])  # delivered first, e.g. after a retry of the others
    registry.service.apply([first, manual], [p1, p2])

    assert registry.statuses() == {1: "champion", 2: "retired"}
    assert [p.reason for p in registry.read.promotions("demo")] == ["gate", "manual", "rollback"]


# ------------------------------------------------------------------------------- trust


async def test_an_unsigned_or_forged_candidate_is_dead_lettered_before_anything_is_read(
    registry: Registry,
) -> None:
    unsigned = completed().model_copy(update={"signature": None})
    forged = Signer.from_base64(generate()[0]).sign(completed())

    with pytest.raises(PermanentError, match="carries no signature of the trainer"):
        await registry.service.on_training_completed(unsigned)
    with pytest.raises(PermanentError, match="is not the trainer's"):
        await registry.service.on_training_completed(forged)

    assert registry.judge.shown == []  # no artifact was loaded
    assert registry.statuses() == {}  # nor registered


async def test_every_decision_is_signed_and_numbered_after_the_last_of_its_dataset(
    registry: Registry,
) -> None:
    await two_versions(registry)
    await registry.service.promote("demo", 2, "admin")
    await registry.service.roll_back("demo", "admin")
    await registry.service.start_rollout("demo", 2, "canary", 0.3, "admin")

    decisions = [e for e, _ in registry.streams.own()]
    assert [e.sequence for e in decisions] == [1, 2, 3, 4]
    assert all(check_decision(e, verifier()) is None for e in decisions)
    back = decisions[2]
    assert (back.model_version, back.reason) == (1, "rollback")  # an old version, a new number
    assert await registry.service.truth.last_sequence("demo") == 4


async def test_decisions_of_another_dataset_have_their_own_numbers(registry: Registry) -> None:
    await registry.train(completed())
    await registry.train(completed(dataset="churn"))

    numbers = {(e.dataset, e.sequence) for e, _ in registry.streams.own()}
    assert numbers == {("demo", 1), ("churn", 1)}


async def test_an_entry_on_its_own_streams_it_did_not_sign_never_reaches_sqlite(
    registry: Registry,
) -> None:
    await two_versions(registry)
    (real, _) = registry.streams.own()[0]
    forged = real.model_copy(update={"model_version": 2, "signature": None})

    await registry.service.on_own_events(Delivery([forged], ["2000-0"]))

    assert registry.statuses() == {1: "champion", 2: "rejected"}


async def test_a_champion_in_the_serving_state_it_did_not_sign_is_not_judged_against(
    registry: Registry,
) -> None:
    await registry.train(completed())
    champion = await registry.service.truth.champion("demo")
    assert champion is not None
    forged = champion.model_copy(update={"artifact": completed().artifact})
    registry.redis.hset(serving.champions_key(KEYS), "demo", forged.model_dump_json())

    with pytest.raises(UnreadableServingState, match="not signed by this registry"):
        await registry.service.on_training_completed(completed())
    assert len(registry.judge.shown) == 1  # only the first candidate was judged


async def test_an_admin_action_on_a_forged_serving_state_says_why_and_publishes_nothing(
    registry: Registry,
) -> None:
    await two_versions(registry)
    champion = await registry.service.truth.champion("demo")
    assert champion is not None
    unsigned = champion.model_copy(update={"signature": None})
    registry.redis.hset(serving.champions_key(KEYS), "demo", unsigned.model_dump_json())
    published = len(registry.streams.entries)

    with pytest.raises(NotReady, match="not signed by this registry"):
        await registry.service.promote("demo", 2, "admin")

    assert len(registry.streams.entries) == published
