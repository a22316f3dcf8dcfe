"""The composition root of the drift monitor."""

from __future__ import annotations

from driftloop_bus import Bus, Consumer
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .api import router
from .reader import SnapshotReader
from .registrations import follow_registrations
from .service import MonitorService
from .settings import MonitorSettings

GROUP = "drift-monitor"
VERIFIES = "the drift monitor watches only versions whose promotion the registry signed"


def build_app(
    settings: MonitorSettings, *, bus: Bus | None = None, store: ContentStore | None = None
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url, endpoint_url=settings.store_s3_endpoint_url)
    registry = settings.registry_verifier(VERIFIES)
    reader = SnapshotReader(bus.redis, bus.keys, store, registry)
    configs = settings.configs()
    follow_registrations(bus, configs)  # per-dataset overrides, live
    monitor = MonitorService(configs, reader, store)
    size, lock = settings.batch_size, monitor.lock
    bus.consume(Consumer(streams.PREDICTION_LOGGED, GROUP, monitor.on_predictions, size, lock))
    bus.consume(Consumer(streams.PREDICTION_LABELLED, GROUP, monitor.on_labelled, size, lock))
    # a retrain skipped because the champion holds re-arms the kind (rearm.py)
    bus.consume(Consumer(streams.TRAINING_SKIPPED, GROUP, monitor.on_skipped, size, lock))
    app = create_app(title="driftloop drift-monitor", bus=bus, routers=[router])
    app.state.monitor = monitor
    return app
