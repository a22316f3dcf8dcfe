"""What the registry announces: the gate's verdict on a candidate, and the admin actions.

Pure: a view of one dataset in, events out (or an error saying why not). Who serves now and
which rollout runs come from the serving state, the truth the predictors load; the history of
promotions from the read side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from driftloop_contracts import (
    Event,
    ModelPromoted,
    ModelRegistered,
    ModelRejected,
    RolloutChanged,
    TrainingCompleted,
)
from driftloop_core import Conflict, InvalidInput, NotFound

from .repository import DecisionRecord

PRODUCER = "registry"


@dataclass(frozen=True)
class DatasetView:
    """What an admin action on one dataset decides on."""

    dataset: str
    #: The promotion serving the dataset now (serving state); None before the first.
    champion: ModelPromoted | None
    #: The rollout in progress (serving state); None when there is none.
    rollout: RolloutChanged | None
    #: Every registered version's training event, by version.
    trainings: Mapping[int, TrainingCompleted]
    #: The version of every promotion so far, in stream order (read side).
    promoted: Sequence[int] = ()

    @property
    def champion_version(self) -> int | None:
        return self.champion.model_version if self.champion else None

    def training(self, version: int) -> TrainingCompleted:
        found = self.trainings.get(version)
        if found is None:
            raise NotFound(f"no version {version} of dataset {self.dataset!r}")
        return found


def promoted_event(
    run: TrainingCompleted,
    version: int,
    previous: int | None,
    reason: str,
    actor: str,
    cause: Event | None = None,
) -> ModelPromoted:
    """A promotion of `run`; caused by `cause`, its id derives from it (retries repeat it)."""
    fields = {
        "dataset": run.dataset,
        "model_version": version,
        "previous_version": previous,
        "reason": reason,
        "artifact": run.artifact,
        "profile": run.profile,
        "metrics": run.metrics,
        "dataset_schema": run.dataset_schema,
        "actor": actor,
    }
    if cause is None:
        return ModelPromoted(producer=PRODUCER, **fields)
    return ModelPromoted.caused_by(cause, "promoted", PRODUCER, **fields)


def verdict(cause: TrainingCompleted, version: int, decision: DecisionRecord) -> list[Event]:
    """The gate's events for a judged candidate: registered, then promoted or rejected. Ids
    derive from the training event, so a redelivery announces the same events."""
    registered = ModelRegistered.caused_by(
        cause,
        "registered",
        PRODUCER,
        dataset=cause.dataset,
        model_version=version,
        run_id=cause.run_id,
    )
    if decision.promote:
        previous = decision.champion_version
        return [registered, promoted_event(cause, version, previous, "gate", PRODUCER, cause)]
    rejected = ModelRejected.caused_by(
        cause,
        "rejected",
        PRODUCER,
        dataset=cause.dataset,
        model_version=version,
        reason=decision.reason,
        candidate_metrics=decision.candidate,
        champion_metrics=decision.champion,
        run_id=cause.run_id,
        trigger=cause.trigger,
    )
    return [registered, rejected]


def promote_by_hand(view: DatasetView, version: int, actor: str) -> ModelPromoted:
    run = view.training(version)
    if view.champion_version == version:
        raise Conflict(f"version {version} already serves {view.dataset!r}")
    return promoted_event(run, version, view.champion_version, "manual", actor)


def roll_back(view: DatasetView, actor: str) -> ModelPromoted:
    """Serve again the version promoted last before the one serving now."""
    current = view.champion_version
    if current is None:
        raise NotFound(f"dataset {view.dataset!r} has no champion to roll back from")
    earlier = [v for v in view.promoted if v != current]
    if not earlier:
        raise Conflict(f"version {current} is the only one ever promoted for {view.dataset!r}")
    return promoted_event(view.training(earlier[-1]), earlier[-1], current, "rollback", actor)


def start_rollout(
    view: DatasetView, version: int, stage: str, share: float, actor: str
) -> RolloutChanged:
    run = view.training(version)
    if view.champion_version == version:
        raise Conflict(f"version {version} already serves {view.dataset!r}: nothing to roll out")
    if stage == "canary" and not 0 < share < 1:
        raise InvalidInput(f"a canary share must be between 0 and 1 (exclusive), got {share}")
    same = view.rollout is not None and view.rollout.model_version == version
    share = share if stage == "canary" else 0.0
    return _rollout_event(run, version, stage, "changed" if same else "started", share, actor)


def end_rollout(view: DatasetView, promote: bool, actor: str) -> list[Event]:
    """End the rollout in progress: the candidate serves everyone, or nobody."""
    if view.rollout is None:
        raise NotFound(f"dataset {view.dataset!r} has no rollout in progress")
    version = view.rollout.model_version
    run = view.training(version)
    outcome = "promoted" if promote else "aborted"
    ended = _rollout_event(run, version, "ended", outcome, 0.0, actor)
    if not promote:
        return [ended]
    previous = view.champion_version
    return [promoted_event(run, version, previous, "manual", actor, ended), ended]


def _rollout_event(
    run: TrainingCompleted, version: int, stage: str, outcome: str, share: float, actor: str
) -> RolloutChanged:
    return RolloutChanged(
        producer=PRODUCER,
        dataset=run.dataset,
        stage=stage,
        outcome=outcome,
        model_version=version,
        share=share,
        artifact=run.artifact,
        profile=run.profile,
        metrics=run.metrics,
        dataset_schema=run.dataset_schema,
        actor=actor,
    )
