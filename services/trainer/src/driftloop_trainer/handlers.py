"""The adapter between the bus and the policy: load the snapshot, decide, train, commit.

Each handler loads the dataset's state, asks the policy (policy.py) for effects, carries out
`Train` (claim, then run), asks the policy what the outcome means, and returns the rest as the
delivery's outputs, which the bus commits atomically with the acknowledgement.
"""

from __future__ import annotations

from collections.abc import Sequence

from driftloop_bus import Output
from driftloop_contracts import (
    DataIngested,
    DriftDetected,
    Event,
    ModelPromoted,
    ModelRejected,
    TrainingCompleted,
    TrainingRequested,
)
from driftloop_core.signing import Signer
from driftloop_core.telemetry import get_logger

from . import policy
from .effects import Announce, Effect, Skip, Train
from .repository import Recheck, Repository
from .rows import RowLoader
from .runs import Executor
from .state import DatasetState, Rules, VersionEntry

log = get_logger(__name__)


class TrainerHandlers:
    def __init__(
        self,
        repo: Repository,
        rows: RowLoader,
        executor: Executor,
        rules: Rules,
        *,
        signer: Signer,
    ) -> None:
        self.repo = repo
        self.rows = rows
        self.executor = executor
        self.rules = rules
        #: Signs each training.completed: the registry loads no artifact it has not signed.
        self.signer = signer

    async def on_data(self, event: DataIngested) -> list[Output]:
        # The catalogue entry comes from the event alone: the blob is read when a run (or a
        # count across an onset) needs its rows. Reading and parsing every small feedback
        # version on arrival had been most of the trainer's CPU per label. A blob that cannot
        # be read then is skipped with a warning (RowLoader._readable), not a failed run.
        state = await self.repo.load(
            event.dataset, adding=VersionEntry.of(event), schema=event.dataset_schema
        )
        return await self.carry_out(state, policy.on_data(state, event, self.rules), event)

    async def on_drift(self, event: DriftDetected) -> list[Output]:
        state = await self.repo.load(event.dataset, drift=event)
        return await self.carry_out(state, policy.on_drift(state, event, self.rules), event)

    async def on_request(self, event: TrainingRequested) -> list[Output]:
        state = await self.repo.load(event.dataset)
        return await self.carry_out(state, policy.on_request(state, event, self.rules), event)

    async def on_promoted(self, event: ModelPromoted) -> list[Output]:
        state = await self.repo.load(event.dataset)
        return await self.carry_out(state, policy.on_promoted(state, event), event)

    async def on_rejected(self, event: ModelRejected) -> list[Output]:
        state = await self.repo.load(event.dataset)
        return await self.carry_out(state, policy.on_rejected(state, event, self.rules), event)

    async def on_recheck(self, event: Recheck) -> list[Output]:
        state = await self.repo.load(event.dataset)
        return await self.carry_out(state, policy.on_recheck(state, event, self.rules), event)

    # ------------------------------------------------------------------------------

    async def carry_out(
        self, state: DatasetState, effects: Sequence[Effect], cause: Event
    ) -> list[Output]:
        done: list[Effect] = []
        for effect in effects:
            done += await self.train(state, effect) if isinstance(effect, Train) else [effect]
        return self.outputs(state, done, cause)

    async def train(self, state: DatasetState, job: Train) -> list[Effect]:
        if job.claim is not None and not await self.repo.claim(
            job.dataset, job.claim, job.claimant
        ):
            return [Skip(f"{job.claim} was claimed by another event")]
        outcome = await self.executor.run(job)
        return policy.on_trained(state, job, outcome, self.rules)

    def outputs(self, state: DatasetState, effects: Sequence[Effect], cause: Event) -> list[Output]:
        """Publishes and writes for the commit; a guard on the generation if state changes."""
        out: list[Output] = []
        for effect in effects:
            if isinstance(effect, Skip):
                log.info("nothing to train", dataset=state.dataset, reason=effect.reason)
            elif isinstance(effect, Announce):
                out.append(self.repo.announce(self._signed(effect)))
            elif not isinstance(effect, Train):
                out.append(self.repo.write(effect))
        if any(not isinstance(e, Skip | Announce | Train) for e in effects):
            out.append(self.repo.guard(state, cause))
        return out

    def _signed(self, effect: Announce) -> Announce:
        if isinstance(effect.event, TrainingCompleted):
            return Announce(self.signer.sign(effect.event))
        return effect
