"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import (
    ArtifactError,
    ModelArtifact,
    ModelFile,
    dump_artifact,
    load_artifact,
    load_model_file,
)
from .frame import absolute_errors, correct, evaluate, feature_matrix, numeric_labels

__all__ = [
    "ArtifactError",
    "ModelArtifact",
    "ModelFile",
    "absolute_errors",
    "correct",
    "dump_artifact",
    "evaluate",
    "feature_matrix",
    "load_artifact",
    "load_model_file",
    "numeric_labels",
]
