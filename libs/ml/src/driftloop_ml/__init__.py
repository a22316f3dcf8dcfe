"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import ArtifactError, ModelArtifact, dump_artifact, load_artifact
from .frame import correct, evaluate, feature_matrix

__all__ = [
    "ArtifactError",
    "ModelArtifact",
    "correct",
    "dump_artifact",
    "evaluate",
    "feature_matrix",
    "load_artifact",
]
