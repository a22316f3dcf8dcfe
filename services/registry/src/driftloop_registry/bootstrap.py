"""The composition root of the registry."""

from __future__ import annotations

from driftloop_bus import Bus, Consumer, each
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .api import build_router
from .gate import GateConfig
from .repository import Repository
from .service import RegistryService
from .settings import RegistrySettings

GROUP = "registry"


def build_app(
    settings: RegistrySettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    repo: Repository | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    service = RegistryService(
        repo or Repository(settings.db_path),
        store or ContentStore(settings.store_url),
        GateConfig(
            settings.min_accuracy,
            settings.min_f1,
            settings.min_improvement,
            settings.min_holdout_rows,
            settings.significance,
        ),
        bus.keys,
    )
    bus.consume(Consumer(streams.TRAINING_COMPLETED, GROUP, each(service.on_training_completed)))
    router = build_router(service, bus, settings.admin_token)
    return create_app(title="driftloop registry", bus=bus, routers=[router])
