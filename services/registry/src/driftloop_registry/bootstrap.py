"""The composition root of the registry."""

from __future__ import annotations

from driftloop_bus import Bus, Consumer, each
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .api import router
from .db import Database
from .gate import GateConfig
from .judging import Judge
from .queries import Queries
from .repository import Repository
from .sequential import SequentialTest
from .service import RegistryService
from .settings import RegistrySettings
from .trialrun import TrialRunner
from .trials import TrialConfig
from .trials_api import TrialTicker
from .trials_api import router as trials_router
from .trialstore import TrialStore
from .truth import RedisServingTruth, ServingTruth

GROUP = "registry"
SIGNS = "the registry signs each model.promoted and model.rollout with it"
VERIFIES = "the registry verifies each training.completed before it reads the artifact"
#: Promotions and rollout changes applied to SQLite per transaction.
PROJECTION_BATCH = 16
#: prediction.labelled events per delivery (each a batch of predictions) for live trials.
LABELLED_BATCH = 32


def build_app(
    settings: RegistrySettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    db: Database | None = None,
    truth: ServingTruth | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    db = db or Database(settings.db_path)
    gate = gate_config(settings)
    signer = settings.signer(SIGNS)
    repo = Repository(db)
    truth = truth or RedisServingTruth(bus.redis, bus.keys, signer.verifier("registry"))
    trial_store = TrialStore(bus.redis, bus.keys)
    service = RegistryService(
        repo,
        Judge(
            store or ContentStore(settings.store_url, endpoint_url=settings.store_s3_endpoint_url),
            gate,
            settings.trusted_modules,
        ),
        truth,
        bus.keys,
        bus.commit,
        signer=signer,
        trainer=settings.trainer_verifier(VERIFIES),
        read_side_wait_s=settings.read_side_wait_s,
        trials=TrialRunner(trial_store, trial_config(settings), truth, repo),
    )
    consume(bus, service, live_trials=settings.live_trial == "shadow")
    ticker = TrialTicker(service.check_trials, settings.trial_check_s)
    app = create_app(
        title="driftloop registry",
        bus=bus,
        routers=[trials_router, router],  # /trials before /{version}
        on_startup=[ticker.start],
        on_shutdown=[ticker.stop],
    )
    app.state.trials = trial_store
    app.state.registry = service
    app.state.queries = Queries(db)
    app.state.admin_token = settings.admin_token
    return app


def consume(bus: Bus, service: RegistryService, *, live_trials: bool) -> None:
    """The registry's consumer groups."""
    judged = each(service.on_training_completed)
    # One decision at a time, from numbering it to its commit (admin actions hold it too).
    bus.consume(Consumer(streams.TRAINING_COMPLETED, GROUP, judged, exclusive=service.deciding))
    # The registry follows its own promotions and rollouts: the one path into SQLite.
    own = service.on_own_events
    bus.consume(Consumer(streams.MODEL_PROMOTED, GROUP, own, batch_size=PROJECTION_BATCH))
    bus.consume(Consumer(streams.MODEL_ROLLOUT, GROUP, own, batch_size=PROJECTION_BATCH))
    if live_trials:  # the paired outcomes of champion and shadow; off: no group, no decoding
        labelled = service.on_labelled
        bus.consume(
            Consumer(
                streams.PREDICTION_LABELLED,
                GROUP,
                labelled,
                batch_size=LABELLED_BATCH,
                exclusive=service.deciding,
            )
        )


def gate_config(settings: RegistrySettings) -> GateConfig:
    return GateConfig(
        settings.min_accuracy,
        settings.min_f1,
        settings.min_improvement,
        settings.min_holdout_rows,
        settings.significance,
        settings.min_r2,
        settings.min_mae_improvement,
    )


def trial_config(settings: RegistrySettings) -> TrialConfig:
    return TrialConfig(
        enabled=settings.live_trial == "shadow",
        test=SequentialTest(settings.trial_alpha, settings.trial_beta, settings.trial_min_effect),
        max_pairs=settings.trial_max_pairs,
        max_seconds=settings.trial_max_s,
    )
