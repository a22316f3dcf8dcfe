"""Carrying out a `Train`: load its rows, fit them (in the worker process: worker.py), store
the artifacts, describe the outcome as an event."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
from driftloop_contracts import Event, TrainingCompleted, TrainingSpec, TrainingTrigger, derived_id
from driftloop_contracts.datasets import LabelledRow, dumps
from driftloop_core import ContentStore
from driftloop_core.telemetry import get_logger
from driftloop_ml import ModelArtifact, dump_artifact

from .effects import PRODUCER, Outcome, Train, failed_event
from .rows import RowLoader
from .state import VersionEntry
from .training import TrainedModel, TrainingConfig, TrainingError, library_versions
from .worker import FitJob, Fitter, InThread

log = get_logger(__name__)

#: The versions a run may read, newest first (the catalogue and the run's own new version).
Versions = Callable[[Train], AsyncIterator[VersionEntry]]
#: A dataset's training spec as registered (None: the default family).
Specs = Callable[[str], TrainingSpec | None]
#: Per-row weights of a run's rows (aligned with them), or None: unweighted.
Weights = Callable[[Train, Sequence[LabelledRow]], np.ndarray | None]


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
    """Loads a run's rows here, fits them with `fitter` (the worker process in the trainer),
    stores what the fit produced."""

    def __init__(
        self,
        store: ContentStore,
        rows: RowLoader,
        versions: Versions,
        config: TrainingConfig,
        max_rows: int,
        specs: Specs = lambda dataset: None,
        *,
        fitter: Fitter | None = None,
        weights: Weights = lambda job, rows: None,
    ) -> None:
        self.store = store
        self.specs = specs
        self.rows = rows
        self.versions = versions
        self.config = config
        self.max_rows = max_rows
        self.fitter = fitter or InThread()
        self.weights = weights

    async def run(self, job: Train) -> Outcome:
        loaded = await self.rows.load(self.versions(job), job.since, self.max_rows)
        log.info(
            "training",
            dataset=job.dataset,
            trigger=job.trigger,
            rows=len(loaded.rows),
            since=str(job.since),
        )
        fit = FitJob(
            self.specs(job.dataset),
            job.schema,
            loaded.rows,
            replace(
                self.config,
                family=job.family or self.config.family,
                search_budget_s=job.budget_s or self.config.search_budget_s,
            ),
            self.weights(job, loaded.rows),
            tuple(sys.path),
        )
        try:
            trained = await self.fitter.fit(fit)
        except TrainingError as exc:
            log.warning("training failed", reason=str(exc))
            return failed_event(job.cause, job.dataset, job.trigger, job.key, str(exc))
        finally:
            del fit, loaded.rows[:]  # the model holds what it needs; free the rows
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
        log.info("trained", accuracy=completed.metrics.accuracy, params=completed.params)
        return completed


#: The name this executor had when it fitted in a thread only.
ThreadExecutor = RunExecutor
