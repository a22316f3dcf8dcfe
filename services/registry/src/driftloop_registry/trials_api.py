"""Live trials over HTTP (what the console and the CLI show), and the periodic check that ends
trials by their time budget when no labelled row comes to do it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

from driftloop_contracts import TrialEvidence, TrialTest
from driftloop_contracts.events import TrialStop
from driftloop_core import NotFound
from driftloop_core.params import DatasetPath
from driftloop_core.telemetry import get_logger
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from .sequential import SequentialTest
from .trials import TrialRecord
from .trialstore import TrialStore

log = get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["registry"])


def trial_store(request: Request) -> TrialStore:
    store: TrialStore = request.app.state.trials
    return store


StoreDep = Annotated[TrialStore, Depends(trial_store)]


class TrialOut(BaseModel):
    """One live challenger trial: running, or decided with the evidence."""

    model_config = ConfigDict(frozen=True)

    trial_id: uuid.UUID
    dataset: str
    model_version: int = Field(description="The challenger (shadowing the champion).")
    champion_version: int
    status: Literal["running", "promoted", "rejected", "abandoned"]
    stopped_by: TrialStop | None = Field(description="What ended it; None while it runs.")
    reason: str | None = Field(description="The decision in words; None while it runs.")
    gate_reason: str = Field(description="Why the challenger passed the offline gate.")
    started_at: datetime
    deadline: datetime = Field(description="When the time budget runs out.")
    decided_at: datetime | None
    evidence: TrialEvidence = Field(description="The paired live outcomes so far.")
    waiting: int = Field(description="Labelled predictions waiting for the other model's.")
    test: TrialTest
    correlation_id: uuid.UUID = Field(description="The chain (a drift's id for a retrain).")

    @classmethod
    def of(cls, record: TrialRecord) -> TrialOut:
        t, done = record.started, record.decided
        test = SequentialTest(t.test.alpha, t.test.beta, t.test.min_effect)
        return cls(
            trial_id=t.trial_id,
            dataset=t.dataset,
            model_version=t.model_version,
            champion_version=t.champion_version,
            status=done.decision if done else "running",
            stopped_by=done.stopped_by if done else None,
            reason=done.reason if done else None,
            gate_reason=t.gate_reason,
            started_at=t.occurred_at,
            deadline=t.deadline,
            decided_at=done.occurred_at if done else None,
            evidence=done.evidence if done else record.evidence(test),
            waiting=record.waiting,
            test=t.test,
            correlation_id=t.chain_id,
        )


@router.get("/models/{dataset}/trials", summary="Live challenger trials, newest first")
async def list_trials(dataset: DatasetPath, store: StoreDep) -> list[TrialOut]:
    return [TrialOut.of(r) for r in await store.history(dataset)]


@router.get("/models/{dataset}/trials/{trial_id}", summary="One live challenger trial")
async def get_trial(dataset: DatasetPath, trial_id: uuid.UUID, store: StoreDep) -> TrialOut:
    record = await store.get(dataset, trial_id)
    if record is None:
        raise NotFound(f"no trial {trial_id} of dataset {dataset!r}")
    return TrialOut.of(record)


class TrialTicker:
    """Every `every_s`, end the trials whose time ran out or whose rollout changed by hand."""

    def __init__(self, check: Callable[[], Awaitable[int]], every_s: float) -> None:
        self.check = check
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.check()
            except Exception as exc:  # Redis away: the next tick tries again
                log.warning("trial check failed", error=str(exc))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
