"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import ArtifactError, ModelArtifact, dump_artifact, load_artifact
from .frame import absolute_errors, correct, evaluate, feature_matrix, numeric_labels

__all__ = [
    "ArtifactError",
    "ModelArtifact",
    "absolute_errors",
    "correct",
    "dump_artifact",
    "evaluate",
    "feature_matrix",
    "load_artifact",
    "numeric_labels",
]
