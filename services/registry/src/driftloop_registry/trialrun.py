"""The adapter of live trials: loads a trial's state (Redis), the serving state and the
candidate's training (SQLite), calls the pure decisions of trials.py, and returns the events
to publish (the service seals and announces them) and the writes of the trial's state, all for
one commit. Run it holding the registry's `deciding` lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from driftloop_bus import AfterCommit, Output
from driftloop_contracts import Event, PredictionsLabelled, TrainingCompleted, utcnow
from driftloop_core.telemetry import get_logger

from . import trials
from .repository import DecisionRecord, Repository
from .trials import Ending, TrialConfig, TrialRecord
from .trialstore import TrialStore
from .truth import ServingTruth

log = get_logger(__name__)


@dataclass
class Outcome:
    """What one step of the trials decided: events to seal and publish, writes to commit."""

    events: list[Event] = field(default_factory=list)
    writes: list[Output] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.events += other.events
        self.writes += other.writes


class TrialRunner:
    def __init__(
        self,
        store: TrialStore,
        config: TrialConfig,
        truth: ServingTruth,
        repo: Repository,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.config = config
        self.truth = truth
        self.repo = repo
        self.clock = clock

    def wanted(self, decision: DecisionRecord) -> bool:
        """Whether a candidate the offline gate passed goes to a live trial: it does when
        trials are on and a champion serves (a first model has nothing to be compared with)."""
        return self.config.enabled and decision.promote and decision.champion_version is not None

    async def begin(
        self, cause: TrainingCompleted, version: int, decision: DecisionRecord
    ) -> Outcome:
        """Shadow the candidate and start its trial; a trial still running for the dataset
        is superseded (its candidate rejected as such)."""
        assert decision.champion_version is not None
        out = Outcome()
        running = (await self.store.active([cause.dataset])).get(cause.dataset)
        if running is not None:
            out.add(self._end(running, trials.superseded(running, version)))
        events, record = trials.start(
            cause, version, decision.champion_version, decision.reason, self.config, self.clock()
        )
        out.events += events
        out.writes.append(self.store.begin(record))
        log.info("trial started", dataset=cause.dataset, version=version, trial=record.trial_id)
        return out

    async def on_labelled(self, events: Sequence[PredictionsLabelled]) -> Outcome:
        """Count the pairs the labelled rows complete; end each trial the test or a budget
        ends."""
        out = Outcome()
        running = await self.store.active({e.dataset for e in events})
        for dataset, record in running.items():
            new = [h for e in events if e.dataset == dataset for h in trials.halves(record, e)]
            stored = await self.store.waiting(record, [pid for pid, _, _ in new])
            observed = trials.observe(record, new, stored)
            end = trials.ending(observed.record, self.config, self.clock())
            if end is None:
                saved = self.store.save(observed.record, observed.store, observed.matched)
                out.writes.append(saved)
            else:
                out.add(await self._checked_end(observed.record, end))
        return out

    async def due(self) -> Outcome:
        """The periodic check: time budgets, and trials whose champion or shadow changed."""
        out = Outcome()
        for record in (await self.store.active()).values():
            end = trials.ending(record, self.config, self.clock())
            if end is not None and end.stopped_by == "time_budget":
                out.add(await self._checked_end(record, end))
            else:
                changed = await self._changed(record)
                if changed is not None:
                    out.add(self._end(record, changed))
        return out

    async def _checked_end(self, record: TrialRecord, end: Ending) -> Outcome:
        """End a trial, unless what it compared no longer serves: then it is abandoned."""
        return self._end(record, await self._changed(record) or end)

    async def _changed(self, record: TrialRecord) -> Ending | None:
        champion = await self.truth.champion(record.dataset)
        rollout = await self.truth.rollout(record.dataset)
        return trials.still_serving(record, champion, rollout)

    def _end(self, record: TrialRecord, end: Ending) -> Outcome:
        t = record.started
        found = self.repo.get(t.dataset, t.model_version)
        if found is None:  # nothing to promote or reject: drop the trial, say so
            log.error("trial candidate not registered; trial dropped", dataset=t.dataset)
            return Outcome([], [self.store.finish(record)])
        events, ended = trials.decided(record, end, self.config, found.training, t.champion_version)
        log.info(
            "trial decided",
            dataset=t.dataset,
            version=t.model_version,
            decision=end.decision,
            stopped_by=end.stopped_by,
            reason=end.reason,
        )
        out = Outcome(events, [self.store.finish(ended)])
        if end.decision != "promoted" and end.stopped_by != "rollout_changed" and found.decision:
            # The read side shows the candidate rejected, with the trial's reason.
            verdict = found.decision.model_copy(
                update={"promote": False, "reason": f"live trial: {end.reason}"}
            )
            out.writes.append(
                AfterCommit(lambda: self.repo.record_decision(t.dataset, t.model_version, verdict))
            )
        return out
