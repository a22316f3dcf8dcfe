"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import ModelArtifact, dump_artifact, load_artifact
from .frame import evaluate, feature_matrix

__all__ = ["ModelArtifact", "dump_artifact", "evaluate", "feature_matrix", "load_artifact"]
