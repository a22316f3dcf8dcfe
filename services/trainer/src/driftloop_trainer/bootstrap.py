"""The composition root of the trainer."""

from __future__ import annotations

from driftloop_bus import Bus, Consumer, each
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .api import build_router
from .handlers import TrainerHandlers
from .repository import RECHECK, Repository
from .rows import RowLoader
from .runs import Executor, ThreadExecutor
from .settings import TrainerSettings
from .training import TrainingConfig

GROUP = "trainer"


def build_app(
    settings: TrainerSettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    executor: Executor | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url)
    rows = RowLoader(store, settings.cache_mb * 1024 * 1024)
    repo = Repository(bus.redis, bus.keys, rows)
    config = TrainingConfig(
        family=settings.model_family,
        holdout_fraction=settings.holdout_fraction,
        cv_folds=settings.cv_folds,
        seed=settings.seed,
    )
    executor = executor or ThreadExecutor(
        store,
        rows,
        lambda job: repo.newest_first(job.dataset, job.since, job.schema, job.include),
        config,
        settings.max_rows,
    )
    handlers = TrainerHandlers(repo, rows, executor, settings.rules())
    bus.consume(Consumer(streams.DATA_INGESTED, GROUP, each(handlers.on_data)))
    bus.consume(Consumer(streams.DRIFT_DETECTED, GROUP, each(handlers.on_drift)))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(handlers.on_request)))
    bus.consume(Consumer(streams.MODEL_PROMOTED, GROUP, each(handlers.on_promoted)))
    bus.consume(Consumer(streams.MODEL_REJECTED, GROUP, each(handlers.on_rejected)))
    bus.consume(Consumer(RECHECK, GROUP, each(handlers.on_recheck)))
    return create_app(title="driftloop trainer", bus=bus, routers=[build_router(repo)])
