"""Every event of the loop. Past tense, frozen, one type per versioned stream (see streams.py)."""

from .data import (
    DataIngested,
    DataRejected,
    DatasetRegistered,
    FeedbackReceived,
    Label,
    RecordsSubmitted,
    RejectedRow,
)
from .drift import DriftDetected, DriftKind, FeatureDrift, WindowRef
from .registry import ModelPromoted, ModelRegistered, ModelRejected, RolloutChanged
from .serving import Outcome, PredictionsLabelled, PredictionsLogged, Role
from .training import (
    SkipReason,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
    TrainingSkipped,
    TrainingTrigger,
)
from .trials import (
    TrialDecided,
    TrialDecision,
    TrialEvidence,
    TrialStarted,
    TrialStop,
    TrialTest,
)

__all__ = [
    "DataIngested",
    "DataRejected",
    "DatasetRegistered",
    "DriftDetected",
    "DriftKind",
    "FeatureDrift",
    "FeedbackReceived",
    "Label",
    "ModelPromoted",
    "ModelRegistered",
    "ModelRejected",
    "Outcome",
    "PredictionsLabelled",
    "PredictionsLogged",
    "RecordsSubmitted",
    "RejectedRow",
    "Role",
    "RolloutChanged",
    "SkipReason",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingRequested",
    "TrainingSkipped",
    "TrainingTrigger",
    "TrialDecided",
    "TrialDecision",
    "TrialEvidence",
    "TrialStarted",
    "TrialStop",
    "TrialTest",
    "WindowRef",
]
