"""The composition root of the predictor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftloop_bus import Bus, Follower, Keys, PublishBody, serving
from driftloop_contracts import ModelPromoted, RolloutChanged, streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from driftloop_core.telemetry import configure_logging

from . import api, oip
from .batcher import MicroBatcher
from .fastpath import FastPath
from .following import Following
from .holders import Holders
from .logbuffer import PredictionLog
from .model import LoadedModel, load_model
from .service import Predictor
from .settings import PredictorSettings
from .trust import Trust

VERIFIES = "the predictor loads only promotions and rollouts the registry signed"


def build_app(
    settings: PredictorSettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    holders: Holders | None = None,
) -> FastPath:
    bus = bus or Bus(settings)
    prediction_log = _prediction_log(settings, bus)
    batcher = MicroBatcher()
    holders = holders or _holders(
        settings,
        store or ContentStore(settings.store_url, endpoint_url=settings.store_s3_endpoint_url),
    )
    predictor = Predictor(holders, prediction_log, batcher, settings.redis_shards)

    async def before_swap() -> None:
        await bus.failpoints.hit("predictor.before_swap")

    trust = Trust(settings.registry_verifier(VERIFIES))
    follow_from(bus, Following(holders, trust, before_swap))

    async def readiness() -> dict[str, Any]:
        return ready(holders)

    async def stop_batcher() -> None:
        batcher.close()

    app = create_app(
        title="driftloop predictor",
        bus=bus,
        routers=[api.router, oip.router],
        on_startup=[prediction_log.start],
        on_shutdown=[prediction_log.stop, stop_batcher],
        readiness=readiness,
        max_body_bytes=settings.max_body_bytes,
        client_tokens=settings.clients(),
    )
    app.state.predictor = predictor
    app.state.max_batch_rows = settings.max_batch_rows
    return FastPath(
        predictor,
        app,
        max_body_bytes=settings.max_body_bytes,
        max_rows=settings.max_batch_rows,
        clients=settings.clients(),
    )


def _holders(settings: PredictorSettings, store: ContentStore) -> Holders:
    """Every dataset's models, loaded from the store on promotion under the memory bounds."""

    def load(event: ModelPromoted | RolloutChanged) -> LoadedModel:
        return load_model(
            store,
            event,
            settings.offload,
            settings.offload_threshold_ms,
            settings.microbatch_max_rows,
            settings.microbatch_max_wait_ms,
            settings.trusted_modules,
        )

    return Holders(
        load,
        default=settings.default_dataset(),
        max_models=settings.max_models,
        max_bytes=settings.max_model_bytes(),
    )


def _prediction_log(settings: PredictorSettings, bus: Bus) -> PredictionLog:
    """The buffer of predictions, published as prediction.logged events in the background."""

    async def publish_logs(bodies: Sequence[bytes]) -> None:
        bodies_out = (
            PublishBody(streams.PREDICTION_LOGGED, b, getattr(b, "dataset", None)) for b in bodies
        )  # each to its dataset's shard
        await bus.publish(*bodies_out, durable=False)  # logs: never wait for replicas

    return PredictionLog(
        publish_logs,
        batch_size=settings.log_batch_size,
        flush_ms=settings.log_flush_ms,
        max_buffer=settings.log_buffer_max,
    )


def ready(holders: Holders) -> dict[str, Any]:
    """Ready when a model serves: the default dataset's if one is set, else any."""
    names = holders.datasets()
    target = holders.default or (names[0] if len(names) == 1 else None)
    served = holders.peek(target) if target else None
    ok = served is not None if holders.default else bool(names)
    version = served.champion.model_version if served and served.champion else None
    return {"ready": ok, "model_version": version, "datasets": names}


def follow_from(bus: Bus, following: Following) -> None:
    """Start from the registry's serving state (never a stream's last entry), then follow both
    streams from the positions read in the same transaction as that state."""
    state: dict[int, serving.ServingState] = {}  # by shard

    async def replay_promotions(keys: Keys) -> str:
        state[keys.index] = await serving.load(bus.redis, keys)
        await following.start_from(state[keys.index])
        return str(state[keys.index].promoted_from)

    async def replay_rollouts(keys: Keys) -> str:  # after replay_promotions: followers in order
        return str(state[keys.index].rollout_from)

    promoted = Follower(
        streams.MODEL_PROMOTED, following.on_promoted, replay_shard=replay_promotions
    )
    bus.follow(promoted)
    bus.follow(Follower(streams.MODEL_ROLLOUT, following.on_rollout, replay_shard=replay_rollouts))


def app_from_environment() -> FastPath:
    """The factory each worker process calls when PREDICTOR_WORKERS > 1."""
    settings = PredictorSettings()
    configure_logging("predictor", settings.log_level, settings.log_format)
    return build_app(settings)
