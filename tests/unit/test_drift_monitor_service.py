"""The monitor's adapter with fakes: memory changes only once a delivery's commit succeeded, so
a failed report write or a failed commit neither loses a drift event nor counts rows twice."""

from __future__ import annotations

import pytest
from driftloop_bus import Publish
from driftloop_drift_monitor.service import MonitorService

from .monitor_world import (
    CONFIGS,
    WINDOW,
    FakeReader,
    FakeRedis,
    FakeStore,
    key,
    labels_of,
    logs,
    promotion,
    published,
)

V1 = promotion(1)


class World:
    def __init__(self) -> None:
        self.redis = FakeRedis()
        self.store = FakeStore()
        self.reader = FakeReader(self.redis, V1)
        self.monitor = MonitorService(CONFIGS, self.reader, self.store)

    def fired(self) -> frozenset[str]:
        watch = self.monitor.watches.get(key(1))
        return frozenset() if watch is None else watch.fired

    def filling(self) -> int:
        watch = self.monitor.watches.get(key(1))
        return 0 if watch is None else watch.windows.filling


@pytest.fixture
def world() -> World:
    return World()


async def test_rows_are_watched_once_the_delivery_is_committed(world: World) -> None:
    outputs = await world.monitor.on_predictions([logs(40)])

    assert world.monitor.watches == {}, "nothing before the commit"
    world.redis.commit(outputs)
    assert world.filling() == 40


async def test_a_report_that_cannot_be_stored_fails_the_delivery_and_the_retry_announces(
    world: World,
) -> None:
    world.redis.commit(await world.monitor.on_predictions([logs(WINDOW)]))
    drifting = logs(WINDOW, shift=2.0, seed=5)
    world.store.failures = 1

    with pytest.raises(OSError, match="unavailable"):
        await world.monitor.on_predictions([drifting])

    assert world.fired() == frozenset(), "a kind is not fired before its event is committed"
    assert world.monitor.watches[key(1)].windows.windows_tested == 1
    outputs = await world.monitor.on_predictions([drifting])  # the retry
    (event,) = published(world.redis.commit(outputs))
    assert event.kind == "data"
    assert world.fired() == {"data"}
    assert world.monitor.watches[key(1)].windows.windows_tested == 2


async def test_a_failed_commit_leaves_memory_unchanged_and_the_retry_publishes_once(
    world: World,
) -> None:
    drifting = logs(WINDOW, shift=2.0, seed=6)

    lost = await world.monitor.on_predictions([drifting])  # the commit fails: nothing applied
    assert published(lost) and world.monitor.watches == {}
    outputs = await world.monitor.on_predictions([drifting])
    events = published(world.redis.commit(outputs))

    assert [e.event_id for e in events] == [e.event_id for e in published(lost)]
    assert world.filling() == WINDOW, "the rows were added once"
    assert world.fired() == {e.kind for e in events}
    later = await world.monitor.on_predictions([logs(WINDOW, shift=2.0, seed=7)])
    assert published(world.redis.commit(later)) == [], "a fired kind is not announced again"


async def test_the_event_report_and_fired_marker_are_committed_together(world: World) -> None:
    outputs = await world.monitor.on_predictions([logs(WINDOW, shift=2.0, seed=8)])
    (event,) = [o.event for o in outputs if isinstance(o, Publish) and o.event.kind == "data"]

    world.redis.commit(outputs)

    assert world.reader.own.fired(V1.event_id, "data") in world.redis.data
    page = await world.monitor.report(str(event.event_id))
    assert b"data drift on credit v1" in page


async def test_a_kind_another_replica_fired_is_not_announced_by_this_one(world: World) -> None:
    world.redis.data[world.reader.own.fired(V1.event_id, "data")] = "elsewhere"

    outputs = await world.monitor.on_predictions([logs(WINDOW, shift=2.0, seed=9)])

    assert "data" not in {e.kind for e in published(world.redis.commit(outputs))}
    assert "data" in world.fired()


async def test_labels_move_live_accuracy_only_after_their_commit(world: World) -> None:
    predictions = logs(60)
    world.redis.commit(await world.monitor.on_predictions([predictions]))

    outputs = await world.monitor.on_labelled([labels_of(predictions, right=1.0)])
    assert world.monitor.watches[key(1)].performance.labels == 0
    world.redis.commit(outputs)

    assert world.monitor.watches[key(1)].performance.labels == 60
    assert world.monitor.status().datasets["credit"].versions[0].performance.live_accuracy == 1.0


async def test_a_version_without_a_promotion_is_ignored_and_nothing_is_watched(
    world: World,
) -> None:
    outputs = await world.monitor.on_predictions([logs(40, version=9, shift=3.0)])
    world.redis.commit(outputs)

    assert world.monitor.watches == {}
    assert published(outputs) == []
    assert world.monitor.status().watching is False
