"""Every ingest replica validates against the live schemas: it loads the dataset registry state
at start-up (driftloop_bus.datasets) and then follows dataset.registered from the position read
with it, so a dataset registered or evolved on any replica applies here to the next delivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from driftloop_bus import Bus, Follower, Keys, datasets
from driftloop_contracts import DatasetRegistered, streams
from driftloop_core.telemetry import get_logger

from .service import Schemas

log = get_logger(__name__)
Hook = Callable[[], Awaitable[None]]


def follow_registrations(bus: Bus, schemas: Schemas, before: Hook | None = None) -> None:
    """`before` runs first at start (the schema files' registration), then the state loads."""

    async def replay(keys: Keys) -> str:  # once per shard
        if before is not None and keys.index == 0:
            await before()
        state = await datasets.load(bus.redis, keys)
        for event in state.datasets.values():
            schemas.apply(event)
        log.info("datasets loaded", datasets=sorted(state.datasets))
        return state.registered_from

    async def on_registered(event: DatasetRegistered) -> None:
        if schemas.apply(event):
            log.info(
                "dataset schema applied",
                dataset=event.dataset,
                version=event.dataset_schema.version,
            )

    bus.follow(Follower(streams.DATASET_REGISTERED, on_registered, replay_shard=replay))
