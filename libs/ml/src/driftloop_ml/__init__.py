"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import ModelArtifact, dump_artifact, load_artifact
from .frame import correct, evaluate, feature_matrix

__all__ = [
    "ModelArtifact",
    "correct",
    "dump_artifact",
    "evaluate",
    "feature_matrix",
    "load_artifact",
]
