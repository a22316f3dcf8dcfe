"""driftloop's contract: every event, the envelope, stream names, the wire codec, the dataset
schema and row validation.

This package depends on pydantic and orjson only, so any producer can use it.
"""

from . import codec, columnar, streams
from .codec import MalformedEvent
from .datasets import LabelledRow
from .envelope import Event, derived_id, utcnow
from .events import (
    DataIngested,
    DataRejected,
    DatasetRegistered,
    DriftDetected,
    DriftKind,
    FeatureDrift,
    FeedbackReceived,
    Label,
    ModelPromoted,
    ModelRegistered,
    ModelRejected,
    Outcome,
    PredictionsLabelled,
    PredictionsLogged,
    RecordsSubmitted,
    RejectedRow,
    Role,
    RolloutChanged,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
    TrainingSkipped,
    TrainingTrigger,
    TrialDecided,
    TrialEvidence,
    TrialStarted,
    TrialTest,
    WindowRef,
)
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile
from .refs import BlobRef, FeatureRow, FeatureValue, Metrics, Record
from .schema import DatasetSchema, FeatureSpec, SchemaEvolutionError, TargetSpec, evolve
from .specs import TrainingSpec
from .streams import Stream

__all__ = [
    "BlobRef",
    "CategoricalProfile",
    "DataIngested",
    "DataRejected",
    "DatasetRegistered",
    "DatasetSchema",
    "DriftDetected",
    "DriftKind",
    "Event",
    "FeatureDrift",
    "FeatureRow",
    "FeatureSpec",
    "FeatureValue",
    "FeedbackReceived",
    "Label",
    "LabelledRow",
    "MalformedEvent",
    "Metrics",
    "ModelPromoted",
    "ModelRegistered",
    "ModelRejected",
    "NumericProfile",
    "Outcome",
    "PredictionsLabelled",
    "PredictionsLogged",
    "Record",
    "RecordsSubmitted",
    "ReferenceProfile",
    "RejectedRow",
    "Role",
    "RolloutChanged",
    "SchemaEvolutionError",
    "Stream",
    "TargetSpec",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingRequested",
    "TrainingSkipped",
    "TrainingSpec",
    "TrainingTrigger",
    "TrialDecided",
    "TrialEvidence",
    "TrialStarted",
    "TrialTest",
    "WindowRef",
    "codec",
    "columnar",
    "derived_id",
    "evolve",
    "streams",
    "utcnow",
]
