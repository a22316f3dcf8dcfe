"""Live challenger trials, decided in pure functions over a trial's record.

A candidate that passes the offline gate while a champion serves is not promoted at once
(with REGISTRY_LIVE_TRIAL=shadow): it starts a shadow rollout, so the predictor runs it on
every request under the champion's prediction ids, and ingest joins both sides with the late
labels (prediction.labelled, roles primary and shadow). Here those labelled rows become
pairs per prediction id (champion's loss, challenger's loss: 0/1 for classes, the absolute
error for numbers), the pairs become counts, and the sequential test (sequential.py) or a
budget ends the trial. A half whose other side has not come yet waits in the trial's state.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from driftloop_contracts import (
    Event,
    ModelPromoted,
    ModelRejected,
    PredictionsLabelled,
    RolloutChanged,
    TrainingCompleted,
    TrialDecided,
    TrialEvidence,
    TrialStarted,
    TrialTest,
    derived_id,
)
from driftloop_contracts.events import TrialDecision, TrialStop
from pydantic import BaseModel, ConfigDict

from .actions import PRODUCER, promoted_event
from .sequential import SequentialTest, outcome

PRIMARY, SHADOW = "p", "s"


@dataclass(frozen=True)
class TrialConfig:
    """REGISTRY_LIVE_TRIAL and the REGISTRY_TRIAL_* settings."""

    enabled: bool = True
    test: SequentialTest = field(default_factory=SequentialTest)
    max_pairs: int = 5000
    max_seconds: float = 3600.0

    def contract(self) -> TrialTest:
        return TrialTest(
            alpha=self.test.alpha,
            beta=self.test.beta,
            min_effect=self.test.min_effect,
            max_pairs=self.max_pairs,
            max_seconds=self.max_seconds,
        )


class TrialRecord(BaseModel):
    """A trial's state (JSON in the registry's Redis), counts written with each delivery."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    started: TrialStarted
    regression: bool = False
    pairs: int = 0
    wins: int = 0
    losses: int = 0
    champion_loss: float = 0.0  # sum over the pairs
    challenger_loss: float = 0.0
    waiting: int = 0  # halves waiting for their other side
    decided: TrialDecided | None = None

    @property
    def trial_id(self) -> uuid.UUID:
        return self.started.trial_id

    @property
    def dataset(self) -> str:
        return self.started.dataset

    def evidence(self, test: SequentialTest) -> TrialEvidence:
        n = self.pairs
        return TrialEvidence(
            pairs=n,
            wins=self.wins,
            losses=self.losses,
            ties=n - self.wins - self.losses,
            champion_error=self.champion_loss / n if n else None,
            challenger_error=self.challenger_loss / n if n else None,
            statistic=test.statistic(self.wins, self.losses),
            lower=test.lower,
            upper=test.upper,
        )


@dataclass(frozen=True)
class Ending:
    decision: TrialDecision
    stopped_by: TrialStop
    reason: str


# ---------------------------------------------------------------------------- start


def start(
    cause: TrainingCompleted,
    version: int,
    champion_version: int,
    gate_reason: str,
    config: TrialConfig,
    now: datetime,
) -> tuple[list[Event], TrialRecord]:
    """The shadow rollout and trial.started for a candidate that passed the offline gate."""
    trial = TrialStarted.caused_by(
        cause,
        "trial",
        PRODUCER,
        occurred_at=now,
        dataset=cause.dataset,
        trial_id=derived_id(cause.event_id, "trial"),
        model_version=version,
        champion_version=champion_version,
        run_id=cause.run_id,
        gate_reason=gate_reason,
        test=config.contract(),
        deadline=now + timedelta(seconds=config.max_seconds),
    )
    shadow = RolloutChanged.caused_by(
        trial,
        "shadow",
        PRODUCER,
        stage="shadow",
        outcome="started",
        **_candidate(cause, version),
    )
    regression = cause.dataset_schema.target.is_regression
    return [shadow, trial], TrialRecord(started=trial, regression=regression)


def _candidate(run: TrainingCompleted, version: int) -> dict[str, object]:
    return {
        "dataset": run.dataset,
        "model_version": version,
        "artifact": run.artifact,
        "profile": run.profile,
        "metrics": run.metrics,
        "dataset_schema": run.dataset_schema,
    }


# ---------------------------------------------------------------------- observing


Half = tuple[str, str, float]  # prediction id, side (PRIMARY or SHADOW), loss


def halves(record: TrialRecord, event: PredictionsLabelled) -> list[Half]:
    """The event's rows this trial compares: the champion's answers and the challenger's
    shadow predictions made since the trial started; nothing of anything else."""
    t = record.started
    if event.dataset != t.dataset:
        return []
    if event.role == "primary" and event.model_version == t.champion_version:
        side = PRIMARY
    elif event.role == "shadow" and event.model_version == t.model_version:
        side = SHADOW
    else:
        return []
    since = int(t.occurred_at.timestamp() * 1000)
    loss = _abs_error if record.regression else _wrong
    return [
        (str(pid), side, loss(prediction, label))
        for pid, prediction, label, at in zip(
            event.prediction_ids,
            event.predictions,
            event.labels,
            event.predicted_at_ms,
            strict=True,
        )
        if at >= since
    ]


def _wrong(prediction: object, label: object) -> float:
    return 0.0 if str(prediction) == str(label) else 1.0


def _abs_error(prediction: object, label: object) -> float:
    return abs(float(prediction) - float(label))  # type: ignore[arg-type]


def pack(side: str, loss: float) -> str:
    return f"{side}{loss!r}"


def unpack(text: str) -> tuple[str, float]:
    return text[0], float(text[1:])


@dataclass(frozen=True)
class Observed:
    record: TrialRecord
    store: dict[str, str]  # prediction id -> packed half, to wait for its other side
    matched: list[str]  # prediction ids whose stored half was paired: delete them


def observe(record: TrialRecord, new: Sequence[Half], stored: Mapping[str, str]) -> Observed:
    """Pair each new half with its other side (stored, or earlier in `new`); count the pairs."""
    store: dict[str, str] = {}
    matched: dict[str, None] = {}  # ordered, and a set's lookup
    pairs = wins = losses = 0
    champion = challenger = 0.0
    for pid, side, loss in new:
        if pid in store:
            other, from_store = store[pid], True
        elif pid in stored and pid not in matched:
            other, from_store = stored[pid], False
        else:
            store[pid] = pack(side, loss)
            continue
        other_side, other_loss = unpack(other)
        if other_side == side:  # the same side twice: keep the first
            continue
        if from_store:
            del store[pid]
        else:
            matched[pid] = None
        ours, theirs = (loss, other_loss) if side == SHADOW else (other_loss, loss)
        pairs += 1
        won = outcome(champion_loss=theirs, challenger_loss=ours)
        wins, losses = wins + (won > 0), losses + (won < 0)
        champion, challenger = champion + theirs, challenger + ours
    counted = record.model_copy(
        update={
            "pairs": record.pairs + pairs,
            "wins": record.wins + wins,
            "losses": record.losses + losses,
            "champion_loss": record.champion_loss + champion,
            "challenger_loss": record.challenger_loss + challenger,
            "waiting": max(0, record.waiting + len(store) - len(matched)),
        }
    )
    return Observed(counted, store, list(matched))


# ------------------------------------------------------------------------ ending


def ending(record: TrialRecord, config: TrialConfig, now: datetime) -> Ending | None:
    """What ends the trial now, if anything: the test, the row budget, the time budget."""
    test = config.test
    e = record.evidence(test)
    figures = (
        f"{e.pairs} paired outcomes, challenger v{record.started.model_version} won {e.wins} "
        f"and lost {e.losses} of the discordant ones (LLR {e.statistic:.2f}, "
        f"boundaries {e.lower:.2f} / {e.upper:.2f})"
    )
    verdict = test.verdict(record.wins, record.losses)
    if verdict == "better":
        return Ending("promoted", "evidence", f"better on live traffic: {figures}")
    if verdict == "not better":
        return Ending("rejected", "evidence", f"not better on live traffic: {figures}")
    if record.pairs >= config.max_pairs:
        spent = f"row budget of {config.max_pairs} pairs spent: {figures}"
        return Ending("rejected", "row_budget", spent)
    if record.waiting > config.max_pairs:
        return Ending(
            "rejected",
            "row_budget",
            f"{record.waiting} labelled predictions found no partner: is the shadow "
            f"predicting? {figures}",
        )
    if now >= record.started.deadline:
        return Ending(
            "rejected", "time_budget", f"time budget of {config.max_seconds:g} s spent: {figures}"
        )
    return None


def still_serving(
    record: TrialRecord, champion: ModelPromoted | None, rollout: RolloutChanged | None
) -> Ending | None:
    """The trial is void if its champion no longer serves or its shadow was changed by hand."""
    t = record.started
    if champion is None or champion.model_version != t.champion_version:
        now_serving = champion.model_version if champion else None
        return Ending(
            "abandoned",
            "rollout_changed",
            f"the champion changed (v{t.champion_version} -> v{now_serving}) during the trial",
        )
    if rollout is None or rollout.stage != "shadow" or rollout.model_version != t.model_version:
        return Ending(
            "abandoned", "rollout_changed", f"the shadow rollout of v{t.model_version} was changed"
        )
    return None


def superseded(record: TrialRecord, newer: int) -> Ending:
    return Ending(
        "abandoned",
        "superseded",
        f"superseded by v{newer}, a newer candidate that passed the offline gate",
    )


def decided(
    record: TrialRecord,
    end: Ending,
    config: TrialConfig,
    run: TrainingCompleted,
    champion_version: int,
) -> tuple[list[Event], TrialRecord]:
    """trial.decided and what it does: a promotion (ending the shadow), or a rejection of the
    candidate (ending the shadow unless the rollout is not the trial's any more)."""
    t = record.started
    event = TrialDecided.caused_by(
        t,
        "decided",
        PRODUCER,
        dataset=t.dataset,
        trial_id=t.trial_id,
        model_version=t.model_version,
        champion_version=t.champion_version,
        decision=end.decision,
        stopped_by=end.stopped_by,
        reason=end.reason,
        evidence=record.evidence(config.test),
        test=t.test,
    )
    out: list[Event] = [event]
    version = t.model_version
    if end.decision == "promoted":
        out.append(promoted_event(run, version, champion_version, "trial", PRODUCER, event))
    if end.stopped_by != "superseded" and end.stopped_by != "rollout_changed":
        outcome_ = "promoted" if end.decision == "promoted" else "aborted"
        fields = _candidate(run, version)
        ended = RolloutChanged.caused_by(
            event, "ended", PRODUCER, stage="ended", outcome=outcome_, **fields
        )
        out.append(ended)
    if end.decision == "rejected" or end.stopped_by == "superseded":
        out.append(_rejected(event, run, end))
    return out, replace_decided(record, event)


def _rejected(cause: TrialDecided, run: TrainingCompleted, end: Ending) -> ModelRejected:
    return ModelRejected.caused_by(
        cause,
        "rejected",
        PRODUCER,
        dataset=cause.dataset,
        model_version=cause.model_version,
        reason=f"live trial: {end.reason}",
        candidate_metrics=run.metrics,
        champion_metrics=None,
        run_id=run.run_id,
        trigger=run.trigger,
    )


def replace_decided(record: TrialRecord, event: TrialDecided) -> TrialRecord:
    return record.model_copy(update={"decided": event})
