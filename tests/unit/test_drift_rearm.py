"""The monitor arms the performance kind again once the trainer found that the champion holds
(training.skipped, champion_holds): a false alarm rightly skipped does not blind the monitor to
a real drift of the same champion later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from driftloop_contracts import DriftDetected, TrainingSkipped
from driftloop_drift_monitor.policy import (
    Announce,
    Effect,
    Install,
    Serving,
    Snapshot,
    by_version,
    drift_id,
    on_labelled,
    outcomes,
)
from driftloop_drift_monitor.rearm import Rearmed, on_skipped
from driftloop_drift_monitor.service import MonitorService
from driftloop_drift_monitor.watch import Rearm, Watch, WatchKey, new_watch

from .monitor_world import (
    CONFIGS,
    PROFILE,
    FakeReader,
    FakeRedis,
    FakeStore,
    key,
    labels_of,
    logs,
    promotion,
    published,
)

V1 = promotion(1, accuracy=0.9)
NOW = datetime(2024, 1, 2, tzinfo=UTC)


def skip(
    drift: Any = None,
    *,
    kind: str = "performance",
    reason: str = "champion_holds",
    measured: float | None = 0.86,
) -> TrainingSkipped:
    """The trainer's skip of the retrain of `drift` (default: V1's first performance drift)."""
    drift_event = drift or DriftDetected.model_construct(
        event_id=drift_id(V1.event_id, kind), kind=kind, model_version=1, dataset="credit"
    )
    return TrainingSkipped(
        producer="trainer",
        dataset="credit",
        trigger="drift",
        drift_id=drift_event.event_id,
        drift_kind=kind,
        shift=kind,
        model_version=1,
        reason=reason,  # type: ignore[arg-type]
        message="the champion holds (test)",
        post_onset_rows=1500,
        champion_holdout_accuracy=V1.metrics.accuracy,
        champion_post_onset_accuracy=measured,
    )


def fired_watch(rearms: int = 0) -> Watch:
    """V1's watch after its performance kind fired on 80 mostly wrong labels."""
    watch = new_watch(key(1), V1, PROFILE, CONFIGS.config, seen=1, rearm=Rearm(rearms))
    performance = watch.performance.copy()
    performance.observe(*_outcomes(80, right=0.2), judge=False)
    return replace(watch, performance=performance, fired=frozenset({"performance"}))


def _outcomes(n: int, right: float) -> tuple[Any, Any]:
    return outcomes(labels_of(logs(n), right=right))


def snapshot(*watches: Watch, fired: Sequence[str] = ("performance",), rearms: int = 0) -> Snapshot:
    serving = Serving(V1, PROFILE, frozenset(fired), Rearm(rearms))  # type: ignore[arg-type]
    return Snapshot(watches={w.key: w for w in watches}, serving={key(1): serving}, seq=2, now=NOW)


def rearmed(effects: Sequence[object]) -> list[Rearmed]:
    return [e for e in effects if isinstance(e, Rearmed)]


def installed(effects: Sequence[object]) -> dict[WatchKey, Watch]:
    (found,) = [e for e in effects if isinstance(e, Install)]
    return dict(found.watches)


def decide_labelled(snap: Snapshot, *events: Any) -> list[Effect]:
    batches, _ = by_version(events)
    return on_labelled(snap, batches, CONFIGS)


# ---------------------------------------------------------------------- the policy


def test_a_performance_drift_skipped_because_the_champion_holds_is_armed_again() -> None:
    effects = on_skipped(snapshot(fired_watch()), [skip()], CONFIGS)

    (rearm,) = rearmed(effects)
    assert (rearm.key, rearm.kind, rearm.promotion_id) == (key(1), "performance", V1.event_id)
    assert rearm.rearm == Rearm(1, 0.86)
    watch = installed(effects)[key(1)]
    assert watch.fired == frozenset()
    assert watch.performance.labels == 0, "the labels that raised the drift are not judged twice"
    assert watch.performance.baseline == 0.86
    assert watch.performance.history, "what was served stays in the history"


def test_after_the_re_arm_a_real_drop_raises_a_new_performance_drift_with_a_new_id() -> None:
    watch = installed(on_skipped(snapshot(fired_watch()), [skip()], CONFIGS))[key(1)]

    effects = decide_labelled(snapshot(watch, fired=(), rearms=1), labels_of(logs(80), right=0.2))

    (announce,) = [e for e in effects if isinstance(e, Announce)]
    assert announce.event.kind == "performance"
    assert announce.event.event_id == drift_id(V1.event_id, "performance", 1)
    assert announce.event.event_id != drift_id(V1.event_id, "performance")


def test_the_re_armed_watch_does_not_fire_on_labels_as_right_as_the_champion_held() -> None:
    watch = installed(on_skipped(snapshot(fired_watch()), [skip()], CONFIGS))[key(1)]

    effects = decide_labelled(snapshot(watch, fired=(), rearms=1), labels_of(logs(80), right=0.86))

    assert [e for e in effects if isinstance(e, Announce)] == []


def test_a_champion_measured_above_its_promoted_accuracy_is_judged_against_the_promoted() -> None:
    (rearm,) = rearmed(on_skipped(snapshot(fired_watch()), [skip(measured=0.93)], CONFIGS))

    assert rearm.rearm == Rearm(1, None)


def test_a_skip_repeated_or_of_an_earlier_event_changes_nothing() -> None:
    """The skip of the first event, after the kind was re-armed once already."""
    assert on_skipped(snapshot(fired_watch(rearms=1), rearms=1), [skip()], CONFIGS) == []


def test_the_same_skip_twice_in_one_delivery_re_arms_once() -> None:
    effects = on_skipped(snapshot(fired_watch()), [skip(), skip()], CONFIGS)

    assert [r.rearm.count for r in rearmed(effects)] == [1]


def test_a_skip_of_a_data_drift_or_of_a_shift_rejected_twice_re_arms_nothing() -> None:
    """A skipped covariate shift stays: re-armed, the windows would fire again on it."""
    data = skip(kind="data")
    twice = skip(reason="rejected_twice")

    assert on_skipped(snapshot(fired_watch(), fired=("data",)), [data, twice], CONFIGS) == []


def test_a_skip_of_an_earlier_promotion_of_the_version_changes_nothing() -> None:
    again = promotion(1, accuracy=0.8)
    serving = Serving(again, PROFILE, frozenset({"performance"}))
    snap = Snapshot(watches={}, serving={key(1): serving}, seq=2, now=NOW)

    assert on_skipped(snap, [skip()], CONFIGS) == []


def test_a_version_not_held_in_memory_is_re_armed_in_redis_only() -> None:
    effects = on_skipped(snapshot(), [skip()], CONFIGS)

    assert [r.rearm for r in rearmed(effects)] == [Rearm(1, 0.86)]
    assert not [e for e in effects if isinstance(e, Install)]


def test_a_watch_another_replica_re_armed_is_judged_again() -> None:
    """This replica still holds the fired watch; the snapshot has the re-arm from Redis."""
    snap = snapshot(fired_watch(), fired=(), rearms=1)

    effects = decide_labelled(snap, labels_of(logs(80), right=0.2))

    (announce,) = [e for e in effects if isinstance(e, Announce)]
    assert announce.event.event_id == drift_id(V1.event_id, "performance", 1)


# --------------------------------------------------------------------- the adapter


async def test_the_re_arm_is_committed_with_the_delivery_and_only_then_in_memory() -> None:
    redis = FakeRedis()
    monitor = MonitorService(CONFIGS, FakeReader(redis, V1), FakeStore())
    wrong = logs(80)
    redis.commit(await monitor.on_predictions([wrong]))
    (first,) = published(redis.commit(await monitor.on_labelled([labels_of(wrong, right=0.2)])))
    fired = monitor.reader.own.fired(V1.event_id, "performance")
    assert fired in redis.data

    outputs = await monitor.on_skipped([skip(first)])

    assert monitor.watches[key(1)].fired == {"performance"}, "nothing before the commit"
    redis.commit(outputs)
    assert fired not in redis.data
    assert monitor.watches[key(1)].fired == frozenset()
    assert monitor.watches[key(1)].rearm == Rearm(1, 0.86)
    again = logs(80, seed=4)
    redis.commit(await monitor.on_predictions([again]))
    (second,) = published(redis.commit(await monitor.on_labelled([labels_of(again, right=0.2)])))
    assert second.kind == "performance" and second.event_id != first.event_id


async def test_skips_that_re_arm_nothing_read_nothing() -> None:
    redis = FakeRedis()
    monitor = MonitorService(CONFIGS, FakeReader(redis, V1), FakeStore())

    assert await monitor.on_skipped([skip(kind="data")]) == []
