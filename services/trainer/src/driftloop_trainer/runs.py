"""Carrying out a `Train`: load its rows, fit in a thread, store the artifacts, describe the
outcome as an event. A worker-process executor would implement the same `Executor`."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from driftloop_contracts import (
    Event,
    TrainingCompleted,
    TrainingSkipped,
    TrainingSpec,
    TrainingTrigger,
    derived_id,
)
from driftloop_contracts.datasets import LabelledRow, dumps
from driftloop_core import ContentStore
from driftloop_core.telemetry import get_logger
from driftloop_ml import ModelArtifact, dump_artifact, load_artifact
from threadpoolctl import threadpool_limits

from . import retrains
from .effects import PRODUCER, Outcome, Train, failed_event
from .refit import refit
from .retrains import Evidence
from .rows import RowLoader
from .state import VersionEntry
from .training import TrainedModel, TrainingConfig, TrainingError, library_versions
from .weights import importance_weights, measure
from .worker import FitJob, Fitter, InThread

log = get_logger(__name__)

#: The versions a run may read, newest first (the catalogue and the run's own new version).
Versions = Callable[[Train], AsyncIterator[VersionEntry]]
#: A dataset's training spec as registered (None: the default family).
Specs = Callable[[str], TrainingSpec | None]


class Executor(Protocol):
    async def run(self, train: Train) -> Outcome: ...


def stored_run(
    store: ContentStore, trained: TrainedModel, versions: list[str], seed: int
) -> dict[str, Any]:
    """Write a run's artifact, profile and holdout to the store: the fields of its
    training.completed besides the envelope, run id and trigger."""
    schema, dataset = trained.schema, trained.schema.name
    versions_info = library_versions()
    artifact = ModelArtifact(trained.pipeline, schema, trained.classes, versions_info)
    return {
        "dataset": dataset,
        "artifact": store.put(dump_artifact(artifact), kind=f"models/{dataset}", suffix=".skops"),
        "profile": store.put(
            trained.profile.model_dump_json().encode(), kind=f"profiles/{dataset}", suffix=".json"
        ),
        "holdout": store.put(dumps(trained.holdout), kind=f"holdouts/{dataset}", suffix=".jsonl"),
        "metrics": trained.metrics,
        "params": trained.params,
        "seed": seed,
        "library_versions": versions_info,
        "dataset_versions": tuple(versions),
        "training_rows": trained.training_rows,
        "dataset_schema": schema,
    }


def completed_event(
    store: ContentStore,
    cause: Event,
    key: str,
    trigger: TrainingTrigger,
    trained: TrainedModel,
    versions: list[str],
    seed: int,
) -> TrainingCompleted:
    """Write the run's artifact, profile and holdout to the store; describe them as an event."""
    return TrainingCompleted.caused_by(
        cause,
        key,
        PRODUCER,
        run_id=derived_id(cause.event_id, "run", key),
        trigger=trigger,
        **stored_run(store, trained, versions, seed),
    )


class RunExecutor:
    """Loads a run's rows here, measures whether a retrain can pay (in a thread), fits them
    with `fitter` (the worker process in the trainer) and stores what the fit produced."""

    def __init__(
        self,
        store: ContentStore,
        rows: RowLoader,
        versions: Versions,
        config: TrainingConfig,
        max_rows: int,
        specs: Specs = lambda dataset: None,
        trusted_modules: tuple[str, ...] = (),
        *,
        fitter: Fitter | None = None,
    ) -> None:
        self.store = store
        self.trusted_modules = trusted_modules
        self.specs = specs
        self.rows = rows
        self.versions = versions
        self.config = config
        self.max_rows = max_rows
        #: Where fits run: the worker process in the trainer, this process's threads in tests.
        self.fitter = fitter or InThread()

    async def run(self, job: Train) -> Outcome:
        loaded = await self.rows.load(self.versions(job), job.since, job.max_rows or self.max_rows)
        log.info(
            "training",
            dataset=job.dataset,
            trigger=job.trigger,
            rows=len(loaded.rows),
            since=str(job.since),
            weighted_from=str(job.weight_from),
        )
        champion = await asyncio.to_thread(self.champion_pipeline, job)
        evidence = await asyncio.to_thread(self.measured, job, champion, loaded.rows)
        unpaid = self.unpaid(job, evidence)
        if unpaid is not None:
            log.info("retrain skipped", dataset=job.dataset, reason=unpaid.message)
            return unpaid
        weight_from = self.weighting(job, loaded.rows, evidence)
        if not (job.refit_champion and evidence is not None):
            champion = None  # search as configured
        try:
            trained, fit_seconds = await self.fit(job, loaded.rows, weight_from, champion)
        except TrainingError as exc:
            log.warning("training failed", reason=str(exc))
            return failed_event(job.cause, job.dataset, job.trigger, job.key, str(exc))
        finally:
            del loaded.rows[:]  # the model holds what it needs; free the rows before storing
        completed = await asyncio.to_thread(
            completed_event,
            self.store,
            job.cause,
            job.key,
            job.trigger,
            trained,
            loaded.versions,
            self.config.seed,
        )
        completed = completed.model_copy(update={"fit_seconds": fit_seconds})
        log.info("trained", accuracy=completed.metrics.accuracy, params=completed.params)
        return completed

    async def fit(
        self,
        job: Train,
        rows: list[LabelledRow],
        weight_from: datetime | None,
        champion: Any = None,
    ) -> tuple[TrainedModel, float]:
        """The fitted model (in the fitter: the worker process; the champion's pipeline
        refitted, one fit, in a thread) and the seconds it took."""
        weights: np.ndarray | None = None
        if weight_from is not None:
            weights = await asyncio.to_thread(
                importance_weights, job.schema, rows, weight_from, job.weight_clip
            )
        config = replace(
            self.config,
            family=job.family or self.config.family,
            search_budget_s=job.budget_s or self.config.search_budget_s,
        )
        started = time.perf_counter()
        trained = None
        if champion is not None and job.champion is not None:
            trained = await self.refitted(job, champion, job.champion.version, rows, weights)
        if trained is None:
            spec = self.specs(job.dataset)
            work = FitJob(spec, job.schema, rows, config, weights, tuple(sys.path))
            trained = await self.fitter.fit(work)
        return trained, round(time.perf_counter() - started, 3)

    async def refitted(
        self,
        job: Train,
        champion: Any,
        version: int,
        rows: list[LabelledRow],
        weights: np.ndarray | None,
    ) -> TrainedModel | None:
        """The champion's pipeline fitted on the rows; None (search instead) if it fails."""
        log.info("refitting the champion's pipeline", dataset=job.dataset, version=version)
        try:
            return await asyncio.to_thread(
                refit, job.schema, champion, version, rows, self.config, weights
            )
        except Exception as exc:  # e.g. a user's pipeline that cannot be cloned
            log.warning("champion refit failed; searching", dataset=job.dataset, error=str(exc))
            return None

    def champion_pipeline(self, job: Train) -> Any:
        """The champion's pipeline, if the run measures it (None if it cannot be loaded)."""
        if job.champion is None or job.onset is None:
            return None
        try:
            data = self.store.get(job.champion.artifact)
            return load_artifact(data, self.trusted_modules).pipeline
        except Exception as exc:  # no evidence is a reason to train, not to fail the run
            log.warning("champion not loaded; training", dataset=job.dataset, error=str(exc))
            return None

    def measured(self, job: Train, champion: Any, rows: list[LabelledRow]) -> Evidence | None:
        """The champion and its own refit on the post-onset rows, if the run asks for it."""
        if champion is None or job.onset is None:
            return None
        try:
            with threadpool_limits(limits=1):  # as every fit: no OpenMP oversubscription
                evidence = measure(
                    job.schema, champion, rows, job.onset, self.config.cv_folds, self.config.seed
                )
        except Exception as exc:  # no evidence is a reason to train, not to fail the run
            log.warning("champion not measured; training", dataset=job.dataset, error=str(exc))
            return None
        log.info("champion measured", dataset=job.dataset, evidence=str(evidence))
        return evidence

    @staticmethod
    def unpaid(job: Train, evidence: Evidence | None) -> TrainingSkipped | None:
        """The run's `training.skipped` if its evidence says a retrain cannot pay."""
        if evidence is None or job.pending is None or job.champion is None:
            return None
        verdict = retrains.retrain_pays(evidence, job.min_gain)
        if verdict is None:
            return None
        return retrains.skipped_event(
            job.cause,
            job.key,
            job.pending.retrain,
            "champion_holds",
            verdict,
            evidence.rows,
            champion_holdout_accuracy=job.champion.holdout_accuracy,
            champion_post_onset_accuracy=evidence.champion_accuracy,
        )

    @staticmethod
    def weighting(
        job: Train, rows: list[LabelledRow], evidence: Evidence | None
    ) -> datetime | None:
        """Where importance weights start; None to fit unweighted. A covariate retrain whose
        champion fell on the post-onset rows keeps those rows only (`rows` trimmed in place):
        the concept moved too, and the old rows would teach the old one."""
        if job.weight_from is None or job.champion is None or evidence is None:
            return job.weight_from
        if not retrains.concept_moved(evidence, job.champion.holdout_accuracy):
            return job.weight_from
        log.info("the concept moved too: post-onset rows only", dataset=job.dataset)
        rows[:] = [r for r in rows if r.observed_at >= job.weight_from]
        return None


#: The name this executor had when it fitted in a thread only.
ThreadExecutor = RunExecutor
