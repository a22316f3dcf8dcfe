"""A model trained elsewhere becomes a candidate: checked against the dataset's schema, then
evaluated like a trained run (holdout = the newest rows, as a run now would hold out) so the
registry's gate judges it like any other.

Pure: bytes, schema and rows in, a `TrainedModel` (or `InvalidInput` saying what to fix) out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import DriftloopError, InvalidInput
from driftloop_ml import (
    ArtifactError,
    ModelFile,
    PickleRefused,
    evaluate,
    feature_matrix,
    load_model_file,
)

from .training import TrainedModel, TrainingConfig, reference_profile, temporal_split


class UnsupportedModelFile(DriftloopError):
    """A model file in a format this trainer does not accept (a pickle, unless allowed)."""

    status_code = 415


@dataclass(frozen=True)
class FilePolicy:
    """Which uploaded files are read, and which types their models may hold."""

    #: DRIFTLOOP_TRUSTED_MODULES: module prefixes trusted besides scikit-learn's types.
    trusted_modules: tuple[str, ...] = ()
    #: TRAINER_ALLOW_PICKLE_UPLOADS: unpickle joblib/pickle files (runs their code).
    allow_pickle: bool = False


def warm_up_rows(schema: DatasetSchema) -> list[dict[str, Any]]:
    """Rows every model of `schema` must predict: each numeric feature at its minimum, maximum
    and in between (0 if unbounded), each category in turn, and missing where nullable."""
    rows: list[dict[str, Any]] = []
    width = max([3, *(len(f.categories or ()) for f in schema.features)])
    for i in range(width):
        row: dict[str, Any] = {}
        for spec in schema.features:
            if spec.kind == "numeric":
                low = spec.minimum if spec.minimum is not None else 0.0
                high = spec.maximum if spec.maximum is not None else low + 1.0
                row[spec.name] = (low, high, (low + high) / 2)[i % 3]
            else:
                categories = spec.categories or ("warm-up",)
                row[spec.name] = categories[i % len(categories)]
        rows.append(row)
    rows.append({f.name: None if f.nullable else rows[0][f.name] for f in schema.features})
    return rows


def admit(file: ModelFile, schema: DatasetSchema) -> None:
    """Whether a model file fits the dataset: its schema (for a driftloop artifact), the methods
    serving calls, predictions on warm-up rows, and its classes; InvalidInput saying why not."""
    if file.schema is not None and (
        file.schema.feature_names != schema.feature_names or file.schema.target != schema.target
    ):
        raise InvalidInput(
            f"the artifact was trained on dataset {file.schema.name!r} with features "
            f"{list(file.schema.feature_names)}; {schema.name!r} has "
            f"{list(schema.feature_names)} and target {schema.target.name!r}"
        )
    estimator, regression = file.estimator, schema.target.is_regression
    needed = ["predict"] if regression else ["predict", "predict_proba"]
    missing = [m for m in needed if not callable(getattr(estimator, m, None))]
    if missing:
        raise InvalidInput(
            f"{type(estimator).__name__} is not a fitted scikit-learn model for this dataset: "
            f"it has no {', '.join(missing)}"
        )
    rows = warm_up_rows(schema)
    x = feature_matrix(schema, rows)
    try:
        predicted = np.asarray(estimator.predict(x))
        proba = None if regression else np.asarray(estimator.predict_proba(x))
    except Exception as exc:
        raise InvalidInput(
            f"the model cannot predict rows of dataset {schema.name!r} "
            f"({type(exc).__name__}: {exc}); it must take a 2-D array of the schema's features "
            f"in order: {list(schema.feature_names)}"
        ) from exc
    if predicted.shape != (len(rows),):
        raise InvalidInput(f"predict returned shape {predicted.shape} for {len(rows)} rows")
    if proba is not None:
        check_classes(estimator, proba, schema)


def check_classes(estimator: Any, proba: np.ndarray, schema: DatasetSchema) -> None:
    classes = [str(c) for c in getattr(estimator, "classes_", ())]
    if sorted(classes) != sorted(schema.target.classes):
        raise InvalidInput(
            f"the model's classes {classes} do not match the target's "
            f"{list(schema.target.classes)}: fit it on labels of {schema.target.name!r}"
        )
    if proba.shape[1:] != (len(classes),):
        raise InvalidInput(f"predict_proba returned {proba.shape[1:]} columns, not {len(classes)}")


def read(data: bytes, schema: DatasetSchema, policy: FilePolicy | None = None) -> ModelFile:
    """Load (the one load path, see load_model_file) and admit an uploaded file."""
    policy = policy or FilePolicy()
    try:
        file = load_model_file(data, policy.trusted_modules, policy.allow_pickle)
    except PickleRefused as exc:
        raise UnsupportedModelFile(str(exc)) from exc
    except ArtifactError as exc:
        raise InvalidInput(str(exc)) from exc
    admit(file, schema)
    return file


def candidate(
    file: ModelFile,
    schema: DatasetSchema,
    rows: Sequence[LabelledRow],
    config: TrainingConfig,
    lineage: dict[str, Any],
) -> TrainedModel:
    """The uploaded model as a run's outcome: metrics on the holdout of the newest rows, the
    reference profile of the rows before them, the lineage as its params."""
    if len(rows) < config.min_rows:
        raise InvalidInput(
            f"dataset {schema.name!r} has {len(rows)} labelled rows; at least {config.min_rows} "
            "are needed to evaluate a model (ingest some first)"
        )
    reference, holdout = temporal_split(rows, config.holdout_fraction)
    try:
        metrics = evaluate(file.estimator, schema, holdout)
        profile = reference_profile(
            schema, reference, file.estimator, holdout, metrics.accuracy, config.seed
        )
    except Exception as exc:
        raise InvalidInput(
            f"the model failed on the dataset's newest rows: {type(exc).__name__}: {exc}"
        ) from exc
    classes = () if schema.target.is_regression else tuple(map(str, file.estimator.classes_))
    return TrainedModel(
        schema=schema,
        pipeline=file.estimator,
        classes=classes,
        params=lineage,
        metrics=metrics,
        holdout=list(holdout),
        profile=profile,
        training_rows=0,  # trained elsewhere, on rows driftloop never saw
    )


def lineage(data: bytes, file: ModelFile, uploaded_by: str, filename: str | None) -> dict[str, Any]:
    """Where an external model came from, kept as its run's params (the registry's lineage)."""
    out: dict[str, Any] = {
        "source": "external",
        "uploaded_by": uploaded_by,
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "file_format": file.format,
        "estimator": f"{type(file.estimator).__module__}.{type(file.estimator).__qualname__}",
    }
    if filename:
        out["file_name"] = filename
    if file.library_versions:
        out["trained_with"] = file.library_versions
    return out
