"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import (
    ArtifactError,
    ModelArtifact,
    ModelFile,
    dump_artifact,
    load_artifact,
    load_model_file,
)
from .frame import correct, evaluate, feature_matrix

__all__ = [
    "ArtifactError",
    "ModelArtifact",
    "ModelFile",
    "correct",
    "dump_artifact",
    "evaluate",
    "feature_matrix",
    "load_artifact",
    "load_model_file",
]
