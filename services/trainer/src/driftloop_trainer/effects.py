"""What the trainer's policy decides, as data: the adapter carries each effect out.

`Train` runs before the commit (its fit in the trainer's worker process: worker.py; a
Train is plain data). Every other effect becomes a Redis write or a
publish inside the delivery's one commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from driftloop_contracts import (
    DatasetSchema,
    Event,
    TrainingCompleted,
    TrainingFailed,
    TrainingSkipped,
    TrainingTrigger,
    derived_id,
)

from .state import ChampionModel, InitialAttempts, Pending, PendingRetrain, VersionEntry

PRODUCER = "trainer"
Outcome = TrainingCompleted | TrainingFailed | TrainingSkipped


def failed_event(
    cause: Event, dataset: str, trigger: TrainingTrigger, key: str, reason: str
) -> TrainingFailed:
    """A run that produced no model; its ids derive from (cause, key), like a completed one."""
    return TrainingFailed.caused_by(
        cause,
        key,
        PRODUCER,
        run_id=derived_id(cause.event_id, "run", key),
        dataset=dataset,
        trigger=trigger,
        reason=reason,
    )


@dataclass(frozen=True)
class Train:
    """Fit a model on the newest rows of `schema` observed at or after `since`.

    With `claim`, the run first takes that claim for `claimant` (one run per trigger across
    replicas; the same event may take it again when retried) and does not run without it.
    """

    dataset: str
    trigger: TrainingTrigger
    schema: DatasetSchema
    since: datetime | None
    cause: Event
    #: Distinguishes the runs of one cause: the outcome's ids derive from (cause, key).
    key: str
    claimant: str
    claim: str | None = None
    #: Rows available when decided, all of them (the run trains on the newest max_rows);
    #: back-offs and follow-ups ask for more than this, so they always wait for new data.
    rows: int = 0
    #: The drift retrain this run is a step of, as it was read.
    pending: Pending | None = None
    #: Versions recorded by the same commit, not yet in the catalogue: train on them too.
    include: tuple[VersionEntry, ...] = ()
    #: Most rows to train on (None: the trainer's max_rows).
    max_rows: int | None = None
    #: Rows observed before this time are weighted toward the rows after it (importance
    #: weights of a domain classifier, clipped to [1/weight_clip, weight_clip]).
    weight_from: datetime | None = None
    weight_clip: float = 10.0
    #: Measure first whether the run can pay: the champion against its own model refitted on
    #: the rows after `onset`; skip the run unless the refit gains more than `min_gain`.
    champion: ChampionModel | None = None
    onset: datetime | None = None
    min_gain: float = 0.0
    #: Overrides of the trainer's default family and `auto` budget (a weak first model's
    #: retry); a dataset's own training spec keeps its family.
    family: str | None = None
    budget_s: float | None = None
    #: Fit the measured champion's own pipeline on the rows instead of searching (refit.py):
    #: the first step of a drift retrain, when the champion could be measured.
    refit_champion: bool = False


@dataclass(frozen=True)
class RecordVersion:
    """Add a dataset version to the catalogue (once) and make its schema the current one."""

    dataset: str
    entry: VersionEntry
    schema: DatasetSchema


@dataclass(frozen=True)
class ReplacePending:
    """Compare-and-set one drift's pending retrain: write `new` (None: remove it) only if the
    stored one is still `expected` (None: absent)."""

    dataset: str
    key: str
    expected: str | None
    new: PendingRetrain | None


def set_pending(dataset: str, retrain: PendingRetrain) -> ReplacePending:
    return ReplacePending(dataset, retrain.key, None, retrain)


def clear_pending(dataset: str, pending: Pending) -> ReplacePending:
    return ReplacePending(dataset, pending.retrain.key, pending.revision, None)


@dataclass(frozen=True)
class MarkRetrained:
    """A drift of this model version led to a retrain: later drifts of it are ignored."""

    dataset: str
    model_version: int


@dataclass(frozen=True)
class ReleaseClaim:
    dataset: str
    trigger: str


@dataclass(frozen=True)
class RecordInitialAttempt:
    dataset: str
    attempts: InitialAttempts


@dataclass(frozen=True)
class SetChampion:
    dataset: str
    model_version: int
    #: Its artifact and holdout accuracy, kept to measure later retrains against.
    model: ChampionModel | None = None


@dataclass(frozen=True)
class RecordArtifact:
    """The trainer produced this artifact: a champion it names may be loaded to measure it."""

    dataset: str
    sha256: str


@dataclass(frozen=True)
class Announce:
    """Publish a run's outcome."""

    event: Outcome


@dataclass(frozen=True)
class Skip:
    """Nothing to do, and why (logged)."""

    reason: str


Write = (
    RecordVersion
    | ReplacePending
    | MarkRetrained
    | ReleaseClaim
    | RecordInitialAttempt
    | SetChampion
    | RecordArtifact
)
Effect = Train | Write | Announce | Skip
