"""driftloop's contract: every event, the envelope, stream names and the dataset schema.

This package depends on pydantic only, so any producer can use it.
"""

from . import streams
from .envelope import Event, derived_id, utcnow
from .events import (
    DataIngested,
    DataRejected,
    DriftDetected,
    DriftKind,
    FeatureDrift,
    FeedbackReceived,
    Label,
    ModelPromoted,
    ModelRegistered,
    ModelRejected,
    PredictionRecord,
    PredictionsLogged,
    RecordsSubmitted,
    RejectedRow,
    RolloutChanged,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
    TrainingTrigger,
    WindowRef,
)
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile
from .refs import BlobRef, FeatureRow, FeatureValue, Metrics, Record
from .schema import DatasetSchema, FeatureSpec, TargetSpec
from .streams import Stream

__all__ = [
    "BlobRef",
    "CategoricalProfile",
    "DataIngested",
    "DataRejected",
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
    "Metrics",
    "ModelPromoted",
    "ModelRegistered",
    "ModelRejected",
    "NumericProfile",
    "PredictionRecord",
    "PredictionsLogged",
    "Record",
    "RecordsSubmitted",
    "ReferenceProfile",
    "RejectedRow",
    "RolloutChanged",
    "Stream",
    "TargetSpec",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingRequested",
    "TrainingTrigger",
    "WindowRef",
    "derived_id",
    "streams",
    "utcnow",
]
