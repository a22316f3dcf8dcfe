"""The composition root of the drift monitor."""

from __future__ import annotations

import asyncio
from typing import Any

from driftloop_bus import Bus, Consumer, Follower, serving
from driftloop_contracts import BlobRef, ModelPromoted, ReferenceProfile, streams
from driftloop_core import ContentStore, NotFound
from driftloop_core.http import create_app
from driftloop_core.telemetry import get_logger
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from .join import LabelJoin
from .service import PRODUCER, MonitorService
from .settings import MonitorSettings

GROUP = "drift-monitor"
log = get_logger(__name__)


def build_app(
    settings: MonitorSettings, *, bus: Bus | None = None, store: ContentStore | None = None
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url)
    join = LabelJoin(
        bus.redis, namespace=settings.namespace, owner=PRODUCER, ttl_s=settings.join_ttl_s
    )
    service = MonitorService(settings, bus.redis, join, store)

    async def on_promoted(event: ModelPromoted) -> None:
        if event.dataset != settings.dataset:
            return
        data = await asyncio.to_thread(store.get, event.profile)
        service.watch_model(event, ReferenceProfile.model_validate_json(data))

    async def replay() -> str:
        state = await serving.load(bus.redis, bus.keys)
        if (champion := state.champions.get(settings.dataset)) is not None:
            await on_promoted(champion)
        return state.promoted_from

    bus.follow(Follower(streams.MODEL_PROMOTED, on_promoted, replay=replay))
    size = settings.batch_size
    bus.consume(Consumer(streams.PREDICTION_LOGGED, GROUP, service.on_predictions, batch_size=size))
    bus.consume(Consumer(streams.FEEDBACK_RECEIVED, GROUP, service.on_feedback, batch_size=size))

    router = APIRouter(prefix="/v1", tags=["drift"])

    @router.get("/drift", summary="What the monitor sees now: windows, tests, live accuracy")
    async def drift() -> dict[str, Any]:
        return service.status()

    @router.get(
        "/reports/{event_id}",
        response_class=HTMLResponse,
        summary="The HTML report of a drift event (linked from its report_url)",
    )
    async def report(event_id: str) -> HTMLResponse:
        raw = await bus.redis.get(service.report_key(event_id))
        if raw is None:
            raise NotFound(f"no drift report for event {event_id}")
        blob = BlobRef.model_validate_json(raw)
        return HTMLResponse(await asyncio.to_thread(store.get, blob))

    return create_app(title="driftloop drift-monitor", bus=bus, routers=[router])
