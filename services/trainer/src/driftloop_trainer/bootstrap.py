"""The composition root of the trainer."""

from __future__ import annotations

from driftloop_bus import Bus, Consumer, each
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .catalogue import Catalogue
from .service import TrainerService
from .settings import TrainerSettings

GROUP = "trainer"


def build_app(
    settings: TrainerSettings, *, bus: Bus | None = None, store: ContentStore | None = None
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url)
    service = TrainerService(settings, store, Catalogue(bus.redis, settings.namespace))
    bus.consume(Consumer(streams.DATA_INGESTED, GROUP, each(service.on_data)))
    bus.consume(Consumer(streams.DRIFT_DETECTED, GROUP, each(service.on_drift)))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(service.on_request)))
    return create_app(title="driftloop trainer", bus=bus)
