"""The composition root of the trainer."""

from __future__ import annotations

from driftloop_bus import Bus, Consumer, Follower, Keys, datasets, each
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .api import TrainerApi, router
from .external import FilePolicy
from .handlers import TrainerHandlers
from .registrations import TrainingSpecs
from .repository import RECHECK, Repository
from .requests import TrainingRequests
from .rows import RowLoader
from .runs import Executor, RunExecutor
from .settings import TrainerSettings
from .training import TrainingConfig
from .uploads import ExternalModels
from .worker import WorkerProcess

GROUP = "trainer"
SIGNS = "the trainer signs each training.completed (its artifact) with it"


def build_app(
    settings: TrainerSettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    executor: Executor | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url, endpoint_url=settings.store_s3_endpoint_url)
    rows = RowLoader(store, settings.cache_mb * 1024 * 1024)
    repo = Repository(bus.redis, bus.keys, rows)
    config = TrainingConfig(
        family=settings.model_family,
        holdout_fraction=settings.holdout_fraction,
        cv_folds=settings.cv_folds,
        seed=settings.seed,
        search_budget_s=settings.search_budget_s,
    )
    specs = TrainingSpecs()
    follow_registrations(bus, specs)
    worker: WorkerProcess | None = None
    if executor is None:
        worker = WorkerProcess()
        executor = RunExecutor(
            store,
            rows,
            lambda job: repo.newest_first(job.dataset, job.since, job.schema, job.include),
            config,
            settings.max_rows,
            specs.get,
            tuple(settings.trusted_modules),
            fitter=worker,
        )
    signer = settings.signer(SIGNS)
    handlers = TrainerHandlers(repo, rows, executor, settings.rules(), signer=signer)
    bus.consume(Consumer(streams.DATA_INGESTED, GROUP, each(handlers.on_data)))
    bus.consume(Consumer(streams.DRIFT_DETECTED, GROUP, each(handlers.on_drift)))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(handlers.on_request)))
    bus.consume(Consumer(streams.MODEL_PROMOTED, GROUP, each(handlers.on_promoted)))
    bus.consume(Consumer(streams.MODEL_REJECTED, GROUP, each(handlers.on_rejected)))
    bus.consume(Consumer(RECHECK, GROUP, each(handlers.on_recheck)))
    files = FilePolicy(settings.trusted_modules, settings.allow_pickle_uploads)
    external = ExternalModels(
        bus, repo, rows, store, config, settings.max_rows, files, signer=signer
    )
    requests = TrainingRequests(bus, repo)
    api = TrainerApi(repo, specs, settings.model_family, external, settings.admin_token, requests)
    return create_app(
        title="driftloop trainer",
        bus=bus,
        routers=[router],
        max_body_bytes=settings.max_upload_mb * 1024 * 1024,
        on_shutdown=[worker.stop] if worker else [],
        state={"trainer": api, "worker": worker},
    )


def follow_registrations(bus: Bus, specs: TrainingSpecs) -> None:
    """Start from the dataset registry state, then follow dataset.registered from the id read
    in the same transaction: a spec registered at run time applies to the next run."""

    async def replay(keys: Keys) -> str:  # once per shard
        state = await datasets.load(bus.redis, keys)
        specs.start_from(state)
        return state.registered_from

    bus.follow(Follower(streams.DATASET_REGISTERED, specs.on_registered, replay_shard=replay))
