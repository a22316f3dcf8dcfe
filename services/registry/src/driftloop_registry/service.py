"""The registry's adapter: loads what each decision needs (SQLite, the serving state), calls
the pure decisions (gate.py, actions.py, projection.py) and turns their results into writes.

* training.completed: register the candidate, judge it against the champion the serving state
  names, record the decision, announce the verdict (model.registered, then model.promoted or
  model.rejected). Ids derive from the training event, so a redelivery repeats the same events.
* model.promoted / model.rollout (the registry's own streams, group "registry"): apply them to
  SQLite in stream order, once per event id. Nothing else crowns a champion.
* admin actions: decide against the serving state, then only publish, with the serving state,
  in one transaction. The read side catches up from the stream.

Trust: a training.completed must carry the trainer's signature before anything of it is read
(else it is dead-lettered with the reason); every promotion and rollout the registry publishes
gets the dataset's next sequence number and the registry's signature, under one lock
(`deciding`, shared with the gate's consumer), so sequences grow in the order of the commits.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from driftloop_bus import Delivery, Keys, Output, PermanentError, Publish
from driftloop_bus.serving import record_promotion, record_rollout
from driftloop_contracts import (
    Event,
    ModelPromoted,
    ModelRegistered,
    ModelRejected,
    PredictionsLabelled,
    RolloutChanged,
    TrainingCompleted,
    TrialDecided,
    TrialStarted,
    streams,
)
from driftloop_core import NotReady
from driftloop_core.signing import Signer, Verifier, check_decision, refuse
from driftloop_core.telemetry import get_logger

from . import actions, projection
from .actions import DatasetView
from .projection import Position
from .read_models import PromotionDone, RolloutDone
from .repository import DecisionRecord, Repository
from .trialrun import Outcome, TrialRunner
from .truth import ServingTruth

log = get_logger(__name__)
Commit = Callable[[Sequence[Output]], Awaitable[None]]
#: Judges a candidate against the promotion serving now (judging.Judge; blocking).
Judging = Callable[[TrainingCompleted, ModelPromoted | None], DecisionRecord]
STREAM_OF: dict[type[Event], streams.Stream[Event]] = {
    ModelRegistered: streams.MODEL_REGISTERED,
    ModelPromoted: streams.MODEL_PROMOTED,
    ModelRejected: streams.MODEL_REJECTED,
    RolloutChanged: streams.MODEL_ROLLOUT,
    TrialStarted: streams.TRIAL_STARTED,
    TrialDecided: streams.TRIAL_DECIDED,
}


def announce(keys: Keys, events: Sequence[Event]) -> list[Output]:
    """Each event published; each promotion and rollout with the serving state it sets, in
    the same transaction, so predictors starting later load what the streams say."""
    out: list[Output] = []
    for event in events:
        out.append(Publish(STREAM_OF[type(event)], event))
        if isinstance(event, ModelPromoted):
            out.append(record_promotion(keys, event))
        elif isinstance(event, RolloutChanged):
            out.append(record_rollout(keys, event))
    return out


def sealed(events: Sequence[Event], last: Mapping[str, int], signer: Signer) -> list[Event]:
    """Pure: each decision (promotion, rollout) numbered after its dataset's `last` sequence,
    in order, and signed; trial events signed (nobody acts on them: no sequence); other
    events as they are."""
    numbers = dict(last)
    out: list[Event] = []
    for event in events:
        if isinstance(event, ModelPromoted | RolloutChanged):
            numbers[event.dataset] = numbers.get(event.dataset, 0) + 1
            event = signer.sign(event.model_copy(update={"sequence": numbers[event.dataset]}))
        elif isinstance(event, TrialStarted | TrialDecided):
            event = signer.sign(event)
        out.append(event)
    return out


class RegistryService:
    def __init__(
        self,
        repo: Repository,
        judge: Judging,
        truth: ServingTruth,
        keys: Keys,
        commit: Commit,
        *,
        signer: Signer,
        trainer: Verifier,
        read_side_wait_s: float = 2.0,
        trials: TrialRunner | None = None,
    ) -> None:
        self.repo = repo
        self.judge = judge
        self.truth = truth
        self.keys = keys
        self.commit = commit
        self.signer = signer
        #: The trainer's public key: no candidate is read without its signature.
        self.trainer = trainer
        #: The registry's own public key: what it reads back must be what it signed.
        self.own = signer.verifier("registry")
        #: Held from numbering decisions to their commit (the gate's consumer holds it too).
        self.deciding = asyncio.Lock()
        self.read_side_wait_s = read_side_wait_s
        #: Live challenger trials (None: the offline gate alone decides).
        self.trials = trials

    # --------------------------------------------------------------------- the gate

    async def on_training_completed(self, event: TrainingCompleted) -> list[Output]:
        refusal = check_decision(event, self.trainer)
        if refusal is not None:
            refuse("training", refusal, event, "its artifact was not loaded; dead-lettered")
            raise PermanentError(
                f"training.completed refused: {refusal.message}; its artifact was not loaded"
            )
        row = self.repo.register(event)
        decision = row.decision
        if decision is None:
            champion = await self.truth.champion(row.dataset)
            decision = await asyncio.to_thread(self.judge, event, champion)
            self.repo.record_decision(row.dataset, row.version, decision)
            log.info("gate", version=row.version, promote=decision.promote, reason=decision.reason)
        verdict = actions.verdict(event, row.version, decision)
        if self.trials is not None and self.trials.wanted(decision):
            trial = await self.trials.begin(event, row.version, decision)
            return await self._outputs(Outcome([verdict[0], *trial.events], trial.writes))
        return announce(self.keys, await self._sealed(verdict))

    # ---------------------------------------------------------------- live trials

    async def on_labelled(self, events: Sequence[PredictionsLabelled]) -> list[Output]:
        """Paired live outcomes for the running trials (the consumer holds `deciding`)."""
        if self.trials is None:
            return []
        return await self._outputs(await self.trials.on_labelled(events))

    async def check_trials(self) -> int:
        """Time budgets and hand-changed rollouts; the number of trials it ended."""
        if self.trials is None:
            return 0
        async with self.deciding:
            outcome = await self.trials.due()
            if outcome.events or outcome.writes:
                await self.commit(await self._outputs(outcome))
        return sum(isinstance(e, TrialDecided) for e in outcome.events)

    async def _outputs(self, outcome: Outcome) -> list[Output]:
        return [*announce(self.keys, await self._sealed(outcome.events)), *outcome.writes]

    async def _sealed(self, events: Sequence[Event]) -> list[Event]:
        """Numbered after the serving state's last sequence of each dataset, and signed.
        Call it holding `deciding` (the gate's consumer holds it around handler and commit)."""
        datasets = {e.dataset for e in events if isinstance(e, ModelPromoted | RolloutChanged)}
        last = {dataset: await self.truth.last_sequence(dataset) for dataset in datasets}
        return sealed(events, last, self.signer)

    # --------------------------------------------------------------- the projection

    async def on_own_events(self, events: Delivery[Any]) -> list[Output]:
        """The consumer of the registry's own streams: positions come from the entry ids. An
        entry the registry did not sign is refused (counted, logged) and never applied."""
        trusted: list[ModelPromoted | RolloutChanged] = []
        positions: list[Position] = []
        for event, entry_id in zip(events, events.entry_ids, strict=True):
            refusal = check_decision(event, self.own)
            if refusal is not None:
                kind = "promotion" if isinstance(event, ModelPromoted) else "rollout"
                refuse(kind, refusal, event, "not applied to the registry's history")
                continue
            trusted.append(event)
            positions.append(Position.parse(entry_id))
        self.apply(trusted, positions)
        return []

    def apply(
        self, events: Sequence[ModelPromoted | RolloutChanged], positions: Sequence[Position]
    ) -> None:
        """Apply events to SQLite in one transaction; a failure leaves them all unapplied."""
        done: list[tuple[ModelPromoted | RolloutChanged, Position, list[projection.Effect]]] = []
        with self.repo.db.transaction() as db:
            for event, at in zip(events, positions, strict=True):
                applied = self.repo.applied(db, event)
                if isinstance(event, ModelPromoted):
                    effects = projection.promotion_applied(applied, event, at)
                else:
                    effects = projection.rollout_applied(applied, event, at)
                self.repo.apply(db, effects)
                done.append((event, at, effects))
        for event, at, effects in done:
            log.info(
                "applied" if effects else "already applied",
                event_type=event.event_type,
                dataset=event.dataset,
                version=event.model_version,
                position=str(at),
                effects=[type(e).__name__ for e in effects],
            )

    # ----------------------------------------------------------------- by hand

    async def promote(self, dataset: str, version: int, actor: str) -> PromotionDone:
        async with self.deciding:
            event = actions.promote_by_hand(await self.view(dataset), version, actor)
            published = await self._publish([event])
        return await self._promotion_done(published[0])

    async def roll_back(self, dataset: str, actor: str) -> PromotionDone:
        """A new promotion (the next sequence) of the version that served before."""
        async with self.deciding:
            event = actions.roll_back(await self.view(dataset), actor)
            published = await self._publish([event])
        return await self._promotion_done(published[0])

    async def start_rollout(
        self, dataset: str, version: int, stage: str, share: float, actor: str
    ) -> RolloutDone:
        async with self.deciding:
            decided = actions.start_rollout(await self.view(dataset), version, stage, share, actor)
            event = (await self._publish([decided]))[0]
        assert isinstance(event, RolloutChanged)
        return _rollout_done(event, None, await self._recorded(event.event_id))

    async def end_rollout(self, dataset: str, promote: bool, actor: str) -> RolloutDone:
        async with self.deciding:
            decided = actions.end_rollout(await self.view(dataset), promote, actor)
            events = await self._publish(decided)
        ended = next(e for e in events if isinstance(e, RolloutChanged))
        promoted = next((e for e in events if isinstance(e, ModelPromoted)), None)
        recorded = [await self._recorded(e.event_id) for e in events]
        version = promoted.model_version if promoted else None
        return _rollout_done(ended, version, all(recorded))

    async def view(self, dataset: str) -> DatasetView:
        """The truth about who serves, the read side's history, every registered version."""
        champion = await self.truth.champion(dataset)
        rollout = await self.truth.rollout(dataset)
        return DatasetView(
            dataset=dataset,
            champion=champion,
            rollout=rollout,
            trainings=self.repo.trainings(dataset),
            promoted=self.repo.promoted_versions(dataset),
        )

    async def _promotion_done(self, event: Event) -> PromotionDone:
        assert isinstance(event, ModelPromoted)
        return PromotionDone(
            dataset=event.dataset,
            version=event.model_version,
            previous_version=event.previous_version,
            reason=event.reason,
            event_id=event.event_id,
            recorded=await self._recorded(event.event_id),
        )

    async def _publish(self, events: Sequence[Event]) -> list[Event]:
        """Seal and publish (hold `deciding`); the events as published."""
        published = await self._sealed(events)
        try:
            await self.commit(announce(self.keys, published))
        except Exception as exc:
            raise NotReady(f"could not publish, nothing changed: {exc}") from exc
        return published

    async def _recorded(self, event_id: uuid.UUID) -> bool:
        """Wait (a little) for the read side to apply an event just published, so that a
        caller reading right after the action sees it."""
        deadline = time.monotonic() + self.read_side_wait_s
        while not self.repo.has_event(event_id):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True


def _rollout_done(event: RolloutChanged, promoted: int | None, recorded: bool) -> RolloutDone:
    return RolloutDone(
        dataset=event.dataset,
        stage=event.stage,
        outcome=event.outcome,
        version=event.model_version,
        share=event.share,
        event_id=event.event_id,
        promoted_version=promoted,
        recorded=recorded,
    )
