"""Model plumbing shared by trainer, registry and predictor."""

from .artifacts import FORMAT, ModelArtifact, dump_artifact, load_artifact
from .errors import TRUSTED_MODULES_SETTING, ArtifactError, PickleRefused, UntrustedTypes
from .files import ModelFile, load_model_file
from .frame import absolute_errors, correct, evaluate, feature_matrix, numeric_labels
from .trust import TRUSTED_TYPES, parse_modules

__all__ = [
    "FORMAT",
    "TRUSTED_MODULES_SETTING",
    "TRUSTED_TYPES",
    "ArtifactError",
    "ModelArtifact",
    "ModelFile",
    "PickleRefused",
    "UntrustedTypes",
    "absolute_errors",
    "correct",
    "dump_artifact",
    "evaluate",
    "feature_matrix",
    "load_artifact",
    "load_model_file",
    "numeric_labels",
    "parse_modules",
]
