"""Pure training: rows in, a fitted Pipeline, its holdout metrics and reference profile out.

Preprocessing lives inside the Pipeline, so serving applies exactly what training fitted.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy
import sklearn
from driftloop_contracts import (
    CategoricalProfile,
    DatasetSchema,
    Metrics,
    NumericProfile,
    ReferenceProfile,
)
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import absolute_errors, evaluate, feature_matrix, numeric_labels
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

PROFILE_SAMPLE = 2000
QUANTILES = {"p01": 1, "p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95, "p99": 99}

SEARCH_SPACES: dict[str, tuple[Any, dict[str, list[Any]]]] = {
    "logistic": (LogisticRegression(max_iter=1000), {"model__C": [0.1, 1.0, 10.0]}),
    "random_forest": (
        RandomForestClassifier(n_estimators=100),
        {"model__max_depth": [6, 12], "model__min_samples_leaf": [1, 5]},
    ),
    "gradient_boosting": (
        HistGradientBoostingClassifier(),
        {"model__learning_rate": [0.05, 0.1], "model__max_depth": [3, None]},
    ),
}
#: The same family names for a regression target ("logistic" is the linear family: Ridge).
REGRESSION_SEARCH_SPACES: dict[str, tuple[Any, dict[str, list[Any]]]] = {
    "logistic": (Ridge(), {"model__alpha": [0.1, 1.0, 10.0]}),
    "random_forest": (
        RandomForestRegressor(n_estimators=100),
        {"model__max_depth": [6, 12], "model__min_samples_leaf": [1, 5]},
    ),
    "gradient_boosting": (
        HistGradientBoostingRegressor(),
        {"model__learning_rate": [0.05, 0.1], "model__max_depth": [3, None]},
    ),
}
REGRESSION_SEARCH_SPACES["linear"] = REGRESSION_SEARCH_SPACES["logistic"]


class TrainingError(Exception):
    """The rows cannot produce a model; the message says why (goes into training.failed)."""


@dataclass(frozen=True)
class TrainingConfig:
    family: str = "logistic"
    holdout_fraction: float = 0.2
    cv_folds: int = 3
    seed: int = 42
    min_rows: int = 20


@dataclass(frozen=True)
class TrainedModel:
    schema: DatasetSchema
    pipeline: Any  # a Pipeline, or whatever estimator a user's entry point returned
    classes: tuple[str, ...]
    params: dict[str, Any]
    metrics: Metrics
    holdout: list[LabelledRow]
    profile: ReferenceProfile
    training_rows: int


def build_pipeline(schema: DatasetSchema, estimator: Any) -> Pipeline:
    numeric = [i for i, f in enumerate(schema.features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(schema.features) if f.kind == "categorical"]
    parts: list[tuple[str, Any, list[int]]] = []
    if numeric:
        parts.append(
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            )
        )
    return Pipeline([("features", ColumnTransformer(parts)), ("model", estimator)])


def temporal_split(
    rows: Sequence[LabelledRow], holdout_fraction: float
) -> tuple[list[LabelledRow], list[LabelledRow]]:
    """Oldest rows train, newest rows judge: the holdout looks like what comes next."""
    ordered = sorted(rows, key=lambda r: r.observed_at)
    cut = len(ordered) - max(1, round(len(ordered) * holdout_fraction))
    return ordered[:cut], ordered[cut:]


class Recipe(Protocol):
    """How a dataset's model is fitted (recipes.py): the fitted model and its parameters."""

    def fit(
        self, x: np.ndarray, y: np.ndarray, folds: int, seed: int
    ) -> tuple[Any, dict[str, Any]]: ...


def search(
    pipeline: Pipeline,
    grid: dict[str, list[Any]],
    x: np.ndarray,
    y: np.ndarray,
    folds: int,
    seed: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[Pipeline, dict[str, Any]]:
    """Grid search: stratified CV on accuracy for classes, plain CV on MAE for numbers; the
    refitted best pipeline and its parameters. `sample_weight` (one per row of `x`) weighs
    each row in every fit (the folds' and the refit), not in the scores."""
    regression = y.dtype.kind == "f"
    searcher = GridSearchCV(
        pipeline,
        grid,
        cv=(KFold if regression else StratifiedKFold)(folds, shuffle=True, random_state=seed),
        scoring="neg_mean_absolute_error" if regression else "accuracy",
        n_jobs=1,
        refit=True,
    )
    weighted = {} if sample_weight is None else {"model__sample_weight": sample_weight}
    try:
        searcher.fit(x, y, **weighted)
    except ValueError as exc:  # e.g. a feature with no value at all in the training rows
        raise TrainingError(f"scikit-learn could not fit the rows: {exc}") from exc
    params = {k.removeprefix("model__"): v for k, v in searcher.best_params_.items()}
    return searcher.best_estimator_, params


def family_space(schema: DatasetSchema, family: str) -> tuple[Any, dict[str, list[Any]]]:
    """The catalogue's estimator and grid of `family` for the schema's kind of target."""
    spaces = REGRESSION_SEARCH_SPACES if schema.target.is_regression else SEARCH_SPACES
    if family not in spaces:
        kind = "regression" if schema.target.is_regression else "classification"
        raise TrainingError(f"no {kind} family {family!r}; known: {sorted(spaces)}")
    return spaces[family]


def train(
    schema: DatasetSchema,
    rows: Sequence[LabelledRow],
    config: TrainingConfig,
    recipe: Recipe | None = None,
    sample_weight: np.ndarray | None = None,
) -> TrainedModel:
    """Fit on the oldest rows, judge on the newest. `sample_weight`, aligned with `rows`,
    weighs the training rows in the default family's fit (a recipe fits unweighted)."""
    if not rows:
        raise TrainingError(f"no labelled rows for dataset {schema.name!r}: nothing to train on")
    if len(rows) < config.min_rows:
        raise TrainingError(f"need at least {config.min_rows} labelled rows, have {len(rows)}")
    fit_rows, holdout = temporal_split(rows, config.holdout_fraction)
    fit_weights = _fit_weights(rows, sample_weight, len(fit_rows))
    y_fit = _targets(schema, fit_rows)
    folds = _folds(schema, y_fit, config)
    x_fit = feature_matrix(schema, [r.features for r in fit_rows])
    if recipe is None:  # the trainer's default family (see recipes.py for training specs)
        estimator, grid = family_space(schema, config.family)
        estimator = sklearn.base.clone(estimator).set_params(random_state=config.seed)
        pipeline, params = search(
            build_pipeline(schema, estimator), grid, x_fit, y_fit, folds, config.seed, fit_weights
        )
    else:
        pipeline, params = recipe.fit(x_fit, y_fit, folds, config.seed)
    metrics = evaluate(pipeline, schema, holdout)
    return TrainedModel(
        schema=schema,
        pipeline=pipeline,
        classes=tuple(str(c) for c in getattr(pipeline, "classes_", ())),
        params=params,
        metrics=metrics,
        holdout=holdout,
        profile=reference_profile(
            schema, fit_rows, pipeline, holdout, metrics.accuracy, config.seed
        ),
        training_rows=len(fit_rows),
    )


def _fit_weights(
    rows: Sequence[LabelledRow], sample_weight: np.ndarray | None, fit_rows: int
) -> np.ndarray | None:
    """The weights of the rows `temporal_split` kept for fitting (same stable order)."""
    if sample_weight is None:
        return None
    order = sorted(range(len(rows)), key=lambda i: rows[i].observed_at)
    return np.asarray(sample_weight, dtype=float)[order[:fit_rows]]


def _targets(schema: DatasetSchema, rows: Sequence[LabelledRow]) -> np.ndarray:
    if schema.target.is_regression:
        return numeric_labels(rows)
    return np.array([r.label for r in rows])


def _folds(schema: DatasetSchema, y_fit: np.ndarray, config: TrainingConfig) -> int:
    """Cross-validation folds the training rows allow; refuses rows nothing can be learnt from."""
    if schema.target.is_regression:
        if np.ptp(y_fit) == 0:
            raise TrainingError(f"every training label is {y_fit[0]!r}: nothing to learn")
        return min(config.cv_folds, len(y_fit))
    classes = sorted(set(y_fit.tolist()))
    if len(classes) < 2:
        raise TrainingError(f"training rows hold one class only ({classes}); need at least two")
    smallest = min(int((y_fit == c).sum()) for c in classes)
    folds = min(config.cv_folds, smallest)
    if folds < 2:
        raise TrainingError(f"a class has {smallest} training row(s); need at least 2 per class")
    return folds


def reference_profile(
    schema: DatasetSchema,
    rows: Sequence[LabelledRow],
    pipeline: Any,
    holdout: Sequence[LabelledRow],
    holdout_accuracy: float,
    seed: int,
) -> ReferenceProfile:
    rng = np.random.default_rng(seed)
    features: dict[str, NumericProfile | CategoricalProfile] = {}
    for spec in schema.features:
        values = [r.features.get(spec.name) for r in rows]
        present = [v for v in values if v is not None]
        missing = 1 - len(present) / len(values)
        if spec.kind == "numeric":
            features[spec.name] = numeric_profile(np.asarray(present, dtype=float), missing, rng)
        else:
            cats, counts = np.unique(np.asarray(present, dtype=str), return_counts=True)
            features[spec.name] = CategoricalProfile(
                frequencies={
                    str(c): float(n / counts.sum()) for c, n in zip(cats, counts, strict=True)
                },
                rows=len(present),
                missing_rate=missing,
            )
    scored = [*rows, *holdout]
    predicted = pipeline.predict(feature_matrix(schema, [r.features for r in scored]))
    if schema.target.is_regression:
        return ReferenceProfile(
            dataset=schema.name,
            rows=len(rows),
            features=features,
            predictions={},
            prediction_rows=len(scored),
            holdout_accuracy=0.0,
            predicted_values=numeric_profile(np.asarray(predicted, dtype=float), 0.0, rng),
            holdout_errors=tuple(absolute_errors(pipeline, schema, holdout).tolist()),
        )
    labels, counts = np.unique(predicted.astype(str), return_counts=True)
    return ReferenceProfile(
        dataset=schema.name,
        rows=len(rows),
        features=features,
        predictions={str(c): float(n / counts.sum()) for c, n in zip(labels, counts, strict=True)},
        prediction_rows=len(scored),
        holdout_accuracy=holdout_accuracy,
    )


def numeric_profile(arr: np.ndarray, missing: float, rng: np.random.Generator) -> NumericProfile:
    """A sample, the moments and the quantiles of numbers (a feature, or predicted values)."""
    sample = rng.choice(arr, size=min(PROFILE_SAMPLE, arr.size), replace=False)
    return NumericProfile(
        sample=tuple(float(v) for v in sample),
        mean=float(arr.mean()),
        std=float(arr.std()),
        quantiles={k: float(np.percentile(arr, q)) for k, q in QUANTILES.items()},
        missing_rate=missing,
    )


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
