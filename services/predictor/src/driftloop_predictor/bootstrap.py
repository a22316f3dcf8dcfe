"""The composition root of the predictor."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from driftloop_bus import Bus, Follower, PublishBody, serving
from driftloop_contracts import ModelPromoted, RolloutChanged, streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from driftloop_core.telemetry import configure_logging, get_logger
from prometheus_client import Counter, Gauge

from . import oip
from .api import build_router
from .batcher import MicroBatcher
from .fastpath import FastPath
from .logbuffer import PredictionLog
from .model import ModelHolder, Rollout, load_model
from .service import Predictor
from .settings import PredictorSettings

MODEL_VERSION = Gauge("driftloop_predictor_model_version", "Model version serving (0: none).")
PROMOTED_AT = Gauge(
    "driftloop_predictor_model_promoted_timestamp_seconds",
    "When the model serving now was promoted (Unix time).",
)
MODEL_SWAPS = Counter("driftloop_predictor_model_swaps_total", "Models swapped in.")
ROLLOUT_SHARE = Gauge("driftloop_predictor_canary_share", "Share of requests the canary answers.")
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

    async def publish_logs(bodies: Sequence[bytes]) -> None:
        await bus.publish(*(PublishBody(streams.PREDICTION_LOGGED, b) for b in bodies))

    prediction_log = PredictionLog(
        publish_logs,
        batch_size=settings.log_batch_size,
        flush_ms=settings.log_flush_ms,
        max_buffer=settings.log_buffer_max,
    )
    batcher = MicroBatcher()
    predictor = Predictor(holder, prediction_log, batcher)
    loading = (
        settings.offload,
        settings.offload_threshold_ms,
        settings.microbatch_max_rows,
        settings.microbatch_max_wait_ms,
    )

    async def on_promoted(event: ModelPromoted) -> None:
        if event.dataset != settings.dataset:
            return
        try:
            model = await asyncio.to_thread(load_model, store, event, *loading)
        except Exception:
            MODEL_LOAD_FAILURES.inc()
            log.exception(
                "promoted model not loaded; serving what we had", version=event.model_version
            )
            return
        await bus.failpoints.hit("predictor.before_swap")
        previous = holder.swap(model)
        MODEL_VERSION.set(model.version)
        PROMOTED_AT.set(event.occurred_at.timestamp())
        MODEL_SWAPS.inc()
        log.info(
            "model swapped in",
            version=model.version,
            previous=previous.version if previous else None,
            reason=event.reason,
        )

    async def on_rollout(event: RolloutChanged) -> None:
        if event.dataset != settings.dataset:
            return
        if event.stage == "ended":
            holder.rollout = None
            ROLLOUT_SHARE.set(0)
            log.info("rollout ended", version=event.model_version, outcome=event.outcome)
            return
        try:
            model = await asyncio.to_thread(load_model, store, event, *loading)
        except Exception:
            MODEL_LOAD_FAILURES.inc()
            log.exception("rollout candidate not loaded", version=event.model_version)
            return
        holder.rollout = Rollout(event.stage, model, event.share)
        ROLLOUT_SHARE.set(event.share if event.stage == "canary" else 0)
        log.info("rollout", stage=event.stage, version=model.version, share=event.share)

    state: list[serving.ServingState] = []

    async def replay_promotions() -> str:
        """What serves now, from the registry's serving state (not the stream's last entry)."""
        state.append(await serving.load(bus.redis, bus.keys))
        if (champion := state[0].champions.get(settings.dataset)) is not None:
            await on_promoted(champion)
        return state[0].promoted_from

    async def replay_rollouts() -> str:
        if (rollout := state[0].rollouts.get(settings.dataset)) is not None:
            await on_rollout(rollout)
        return state[0].rollout_from

    bus.follow(Follower(streams.MODEL_PROMOTED, on_promoted, replay=replay_promotions))
    bus.follow(Follower(streams.MODEL_ROLLOUT, on_rollout, replay=replay_rollouts))

    async def readiness() -> dict[str, Any]:
        current = holder.current
        return {"ready": current is not None, "model_version": current.version if current else None}

    async def stop_batcher() -> None:
        batcher.close()

    app = create_app(
        title="driftloop predictor",
        bus=bus,
        routers=[
            build_router(predictor, settings.max_batch_rows),
            oip.build_router(predictor, settings.max_batch_rows),
        ],
        on_startup=[prediction_log.start],
        on_shutdown=[prediction_log.stop, stop_batcher],
        readiness=readiness,
        max_body_bytes=settings.max_body_bytes,
    )
    return FastPath(
        predictor, app, max_body_bytes=settings.max_body_bytes, max_rows=settings.max_batch_rows
    )


def app_from_environment() -> FastPath:
    """The factory each worker process calls when PREDICTOR_WORKERS > 1."""
    settings = PredictorSettings()
    configure_logging("predictor", settings.log_level, settings.log_format)
    return build_app(settings)
