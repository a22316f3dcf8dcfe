"""Rows to the matrix a Pipeline takes, and holdout metrics: the same code trains, gates, serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema, LabelledRow, Metrics
from sklearn.metrics import accuracy_score, f1_score, log_loss


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


def evaluate(pipeline: Any, schema: DatasetSchema, rows: Sequence[LabelledRow]) -> Metrics:
    """Accuracy, macro F1 and log loss of a fitted pipeline on labelled rows."""
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
