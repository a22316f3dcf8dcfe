"""Fitting in a worker process, so the trainer's event loop keeps consuming while it trains.

One worker process (a `ProcessPoolExecutor` of one, forked from a forkserver that has already
imported scikit-learn, or spawned where there is no forkserver) is started with the trainer and
fits one run at a time; runs decided meanwhile queue. If it dies (killed, out of memory, a
crash in native code) the run it held fails with a `TrainingError` saying so, which becomes a
training.failed, and a new worker is started for the next run: the trainer itself never goes
down with it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from driftloop_contracts import DatasetSchema, TrainingSpec
from driftloop_contracts.datasets import LabelledRow
from driftloop_core.telemetry import get_logger

from .recipes import train_with
from .training import TrainedModel, TrainingConfig, TrainingError

log = get_logger(__name__)
#: How often the worker checks that the trainer still runs.
WATCH_S = 1.0


@dataclass(frozen=True)
class FitJob:
    """Everything a fit needs, sent to the worker as it is (pickled)."""

    spec: TrainingSpec | None
    schema: DatasetSchema
    rows: list[LabelledRow]
    config: TrainingConfig
    sample_weight: np.ndarray | None = None
    #: The trainer's import path, so a user's entry point imports in the worker as it would
    #: in the trainer (a path added after the worker started included).
    sys_path: tuple[str, ...] = ()


class Fitter(Protocol):
    """Where a run's model is fitted: in a thread of the trainer, or in the worker process."""

    async def fit(self, job: FitJob) -> TrainedModel: ...


def fit(job: FitJob) -> TrainedModel:
    """The fit itself (runs in the worker)."""
    missing = [p for p in job.sys_path if p not in sys.path]
    sys.path.extend(missing)
    return train_with(job.spec, job.schema, job.rows, job.config, job.sample_weight)


def exit_with(trainer: int) -> None:
    """In the worker: exit once the trainer is gone. A trainer killed outright (SIGKILL, OOM)
    closes nothing the worker or its forkserver wait on (each holds the other's pipe ends),
    so without this both would stay, holding the trainer's memory, for good."""

    def watch() -> None:
        while True:
            threading.Event().wait(WATCH_S)
            try:
                os.kill(trainer, 0)
            except ProcessLookupError:
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-trainer", daemon=True).start()


class InThread:
    """Fits in a thread of this process (tests and tools; the trainer uses the worker)."""

    async def fit(self, job: FitJob) -> TrainedModel:
        return await asyncio.to_thread(fit, job)


class WorkerProcess:
    """The trainer's worker process: started at once, started again if it dies."""

    def __init__(self, method: str = "forkserver") -> None:
        if method not in multiprocessing.get_all_start_methods():
            method = "spawn"
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":
            self._context.set_forkserver_preload([__name__])
        self._pool, self._started = self._start()

    def _start(self) -> tuple[ProcessPoolExecutor, Future[int]]:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=exit_with,
            initargs=(os.getpid(),),
        )
        return pool, pool.submit(os.getpid)  # starts the worker now, not at the first run

    async def pid(self) -> int:
        """The worker's process id (once it runs)."""
        return await asyncio.wrap_future(self._started)

    async def fit(self, job: FitJob) -> TrainedModel:
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fit, job)
        except BrokenProcessPool as exc:
            self._restart(pool)
            raise TrainingError(
                f"the training worker process died during the fit ({exc}); it was restarted "
                "and the next run trains in a new one. If this repeats for a dataset, its rows "
                "may need more memory than the trainer has (TRAINER_MAX_ROWS)"
            ) from exc

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        if self._pool is broken:  # concurrent failures of one worker restart it once
            log.warning("training worker died; starting a new one")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool, self._started = self._start()

    async def stop(self) -> None:
        """Stops taking runs; a run in progress finishes in the worker, which then exits."""
        self._pool.shutdown(wait=False, cancel_futures=True)
