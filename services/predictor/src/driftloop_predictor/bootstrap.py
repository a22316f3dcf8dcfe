"""The composition root of the predictor."""

from __future__ import annotations

import asyncio
from typing import Any

from driftloop_contracts import ModelPromoted, streams
from driftloop_core import Bus, ContentStore, Follower
from driftloop_core.http import create_app
from driftloop_core.telemetry import get_logger
from fastapi import FastAPI
from prometheus_client import Counter, Gauge

from .api import build_router
from .logbuffer import PredictionLog
from .model import ModelHolder, load_model
from .service import Predictor
from .settings import PredictorSettings

MODEL_VERSION = Gauge("driftloop_predictor_model_version", "Model version serving (0: none).")
MODEL_SWAPS = Counter("driftloop_predictor_model_swaps_total", "Models swapped in.")
MODEL_LOAD_FAILURES = Counter(
    "driftloop_predictor_model_load_failures_total", "Promoted models that could not be loaded."
)
log = get_logger(__name__)


def build_app(
    settings: PredictorSettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    holder: ModelHolder | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url)
    holder = holder or ModelHolder()
    prediction_log = PredictionLog(
        bus.publish,
        batch_size=settings.log_batch_size,
        flush_ms=settings.log_flush_ms,
        max_buffer=settings.log_buffer_max,
    )
    predictor = Predictor(holder, prediction_log)

    async def on_promoted(event: ModelPromoted) -> None:
        if event.dataset != settings.dataset:
            return
        try:
            model = await asyncio.to_thread(load_model, store, event)
        except Exception:
            MODEL_LOAD_FAILURES.inc()
            log.exception(
                "promoted model not loaded; serving what we had", version=event.model_version
            )
            return
        await bus.failpoints.hit("predictor.before_swap")
        previous = holder.swap(model)
        MODEL_VERSION.set(model.version)
        MODEL_SWAPS.inc()
        log.info(
            "model swapped in",
            version=model.version,
            previous=previous.version if previous else None,
            reason=event.reason,
        )

    bus.follow(Follower(streams.MODEL_PROMOTED, on_promoted))

    async def readiness() -> dict[str, Any]:
        current = holder.current
        return {"ready": current is not None, "model_version": current.version if current else None}

    return create_app(
        title="driftloop predictor",
        bus=bus,
        routers=[build_router(predictor, settings.max_batch_rows)],
        on_startup=[prediction_log.start],
        on_shutdown=[prediction_log.stop],
        readiness=readiness,
    )
