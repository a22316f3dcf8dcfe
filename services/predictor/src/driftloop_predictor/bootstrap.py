"""The composition root of the predictor."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from driftloop_contracts import ModelPromoted, streams
from driftloop_core import Bus, ContentStore, Follower
from driftloop_core.http import create_app
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter, Gauge

from .api import build_router
from .batcher import MicroBatcher
from .fastpath import FastPath
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
) -> FastPath:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url)
    holder = holder or ModelHolder()

    async def publish_logs(bodies: Sequence[tuple[bytes, str]]) -> None:
        await bus.publish_encoded(streams.PREDICTION_LOGGED, bodies)

    prediction_log = PredictionLog(
        publish_logs,
        batch_size=settings.log_batch_size,
        flush_ms=settings.log_flush_ms,
        max_buffer=settings.log_buffer_max,
    )
    batcher = MicroBatcher(
        max_rows=settings.microbatch_max_rows, max_wait_ms=settings.microbatch_max_wait_ms
    )
    predictor = Predictor(holder, prediction_log, batcher)

    async def on_promoted(event: ModelPromoted) -> None:
        if event.dataset != settings.dataset:
            return
        try:
            model = await asyncio.to_thread(
                load_model, store, event, settings.offload, settings.offload_threshold_ms
            )
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

    async def stop_batcher() -> None:
        batcher.close()

    app = create_app(
        title="driftloop predictor",
        bus=bus,
        routers=[build_router(predictor, settings.max_batch_rows)],
        on_startup=[prediction_log.start],
        on_shutdown=[prediction_log.stop, stop_batcher],
        readiness=readiness,
    )
    return FastPath(
        predictor, app, max_body_bytes=settings.max_body_bytes, max_rows=settings.max_batch_rows
    )
