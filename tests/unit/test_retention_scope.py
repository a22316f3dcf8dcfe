"""Retention trims what a process consumes in a group or publishes, never a stream it only
follows: with one Redis user per service, a follower may read that stream but not trim it
(the predictor following model.promoted.v1 got NOPERM every maintenance period)."""

from __future__ import annotations

from collections.abc import Sequence

from driftloop_bus import Bus, BusSettings, Consumer, Follower, Publish, each
from driftloop_contracts import ModelPromoted, TrainingRequested, streams


async def _ignore(event: object) -> Sequence[Publish]:
    return []


async def _follow(event: ModelPromoted) -> None:
    return None


def test_a_followed_stream_is_not_among_the_streams_a_bus_trims() -> None:
    bus = Bus(BusSettings(namespace="ns:"))
    bus.consume(Consumer[TrainingRequested](streams.TRAINING_REQUESTED, "g", each(_ignore)))
    bus.follow(Follower(streams.MODEL_PROMOTED, _follow))
    bus.client.published.add("ns:prediction.logged.v3")
    assert bus.touched_streams() == {"ns:training.requested.v1", "ns:prediction.logged.v3"}
