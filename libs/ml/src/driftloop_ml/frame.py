"""Rows to the matrix a Pipeline takes, and holdout metrics: the same code trains, gates, serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema, LabelledRow, Metrics
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)


def feature_matrix(schema: DatasetSchema, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rows keyed by feature name as an object array in schema order; None becomes NaN."""
    names = schema.feature_names
    return np.array(
        [[np.nan if (v := r.get(n)) is None else v for n in names] for r in rows], dtype=object
    )


def correct(pipeline: Any, schema: DatasetSchema, rows: Sequence[LabelledRow]) -> np.ndarray:
    """Per row: did the pipeline predict the label? (paired comparisons on one holdout)"""
    predicted = pipeline.predict(feature_matrix(schema, [r.features for r in rows]))
    truth = np.array([r.label for r in rows])
    return np.asarray(predicted.astype(str) == truth, dtype=bool)


def numeric_labels(rows: Sequence[LabelledRow]) -> np.ndarray:
    """Regression labels (stored as the text of a float) as floats."""
    return np.array([float(r.label) for r in rows], dtype=np.float64)


def absolute_errors(
    pipeline: Any, schema: DatasetSchema, rows: Sequence[LabelledRow]
) -> np.ndarray:
    """Per row: |prediction - label| of a regression pipeline (paired comparisons on one
    holdout, as `correct` is for classification)."""
    predicted = pipeline.predict(feature_matrix(schema, [r.features for r in rows]))
    errors: np.ndarray = np.abs(np.asarray(predicted, dtype=np.float64) - numeric_labels(rows))
    return errors


def evaluate(pipeline: Any, schema: DatasetSchema, rows: Sequence[LabelledRow]) -> Metrics:
    """Holdout metrics of a fitted pipeline: accuracy, macro F1 and log loss for a
    classification target; MAE, RMSE and R2 for a regression one."""
    if schema.target.is_regression:
        return _regression_metrics(pipeline, schema, rows)
    x = feature_matrix(schema, [r.features for r in rows])
    y = np.array([r.label for r in rows])
    proba = pipeline.predict_proba(x)
    predicted = pipeline.classes_[proba.argmax(axis=1)]
    extra = {}
    if set(y.tolist()) <= set(pipeline.classes_.tolist()):
        extra["log_loss"] = float(log_loss(y, proba, labels=pipeline.classes_))
    return Metrics(
        accuracy=float(accuracy_score(y, predicted)),
        f1_macro=float(f1_score(y, predicted, average="macro", zero_division=0)),
        rows=len(rows),
        extra=extra,
    )


def _regression_metrics(
    pipeline: Any, schema: DatasetSchema, rows: Sequence[LabelledRow]
) -> Metrics:
    y = numeric_labels(rows)
    predicted = np.asarray(
        pipeline.predict(feature_matrix(schema, [r.features for r in rows])), dtype=np.float64
    )
    # R2 is undefined on fewer than two rows or a constant target: 0 (no better than the mean).
    r2 = float(r2_score(y, predicted)) if len(y) > 1 and np.ptp(y) > 0 else 0.0
    return Metrics(
        accuracy=0.0,
        f1_macro=0.0,
        rows=len(rows),
        mae=float(mean_absolute_error(y, predicted)),
        rmse=float(np.sqrt(mean_squared_error(y, predicted))),
        r2=r2,
    )
