"""Versioned stream names and the one event type each stream carries.

A breaking change to an event gets a new stream (``.v2``); within a version only additive
changes are allowed, which tests/unit/test_contract_snapshots.py enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .envelope import Event
from .events import (
    DataIngested,
    DataRejected,
    DatasetRegistered,
    DriftDetected,
    FeedbackReceived,
    ModelPromoted,
    ModelRegistered,
    ModelRejected,
    PredictionsLabelled,
    PredictionsLogged,
    RecordsSubmitted,
    RolloutChanged,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
    TrainingSkipped,
    TrialDecided,
    TrialStarted,
)

E = TypeVar("E", bound=Event, covariant=True)

DLQ_SUFFIX = ".dlq"


def entry_order(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id (``<ms>-<seq>``) as (ms, seq): the order Redis gives entries."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Stream(Generic[E]):
    """A logical stream: its versioned name and the event model it carries."""

    name: str
    event: type[E]

    def key(self, namespace: str = "") -> str:
        """The Redis key: the name behind an optional namespace (tests use random ones)."""
        return f"{namespace}{self.name}"

    @property
    def dead_letters(self) -> str:
        return f"{self.name}{DLQ_SUFFIX}"

    @property
    def event_type(self) -> str:
        """The ``event_type`` every entry of this stream carries."""
        return str(self.event.model_fields["event_type"].default)


DATASET_REGISTERED = Stream("dataset.registered.v1", DatasetRegistered)
INGEST_RECORDS = Stream("ingest.records.v1", RecordsSubmitted)
DATA_INGESTED = Stream("data.ingested.v1", DataIngested)
DATA_REJECTED = Stream("data.rejected.v1", DataRejected)
FEEDBACK_RECEIVED = Stream("feedback.received.v1", FeedbackReceived)
TRAINING_REQUESTED = Stream("training.requested.v1", TrainingRequested)
TRAINING_COMPLETED = Stream("training.completed.v1", TrainingCompleted)
TRAINING_FAILED = Stream("training.failed.v1", TrainingFailed)
TRAINING_SKIPPED = Stream("training.skipped.v1", TrainingSkipped)
MODEL_REGISTERED = Stream("model.registered.v1", ModelRegistered)
MODEL_PROMOTED = Stream("model.promoted.v1", ModelPromoted)
MODEL_REJECTED = Stream("model.rejected.v1", ModelRejected)
MODEL_ROLLOUT = Stream("model.rollout.v1", RolloutChanged)
PREDICTION_LOGGED = Stream("prediction.logged.v3", PredictionsLogged)
PREDICTION_LABELLED = Stream("prediction.labelled.v1", PredictionsLabelled)
DRIFT_DETECTED = Stream("drift.detected.v1", DriftDetected)
TRIAL_STARTED = Stream("trial.started.v1", TrialStarted)
TRIAL_DECIDED = Stream("trial.decided.v1", TrialDecided)

ALL_STREAMS: tuple[Stream[Event], ...] = (
    DATASET_REGISTERED,
    INGEST_RECORDS,
    DATA_INGESTED,
    DATA_REJECTED,
    FEEDBACK_RECEIVED,
    TRAINING_REQUESTED,
    TRAINING_COMPLETED,
    TRAINING_FAILED,
    TRAINING_SKIPPED,
    MODEL_REGISTERED,
    MODEL_PROMOTED,
    MODEL_REJECTED,
    MODEL_ROLLOUT,
    PREDICTION_LOGGED,
    PREDICTION_LABELLED,
    DRIFT_DETECTED,
    TRIAL_STARTED,
    TRIAL_DECIDED,
)

BY_NAME: dict[str, Stream[Event]] = {s.name: s for s in ALL_STREAMS}
