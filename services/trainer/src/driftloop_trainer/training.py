"""Pure training: rows in, a fitted Pipeline, its holdout metrics and reference profile out.

Preprocessing lives inside the Pipeline, so serving applies exactly what training fitted.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
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
from threadpoolctl import threadpool_limits

from . import search as auto

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


#: The family that searches the others (search.py).
AUTO = "auto"


class TrainingError(Exception):
    """The rows cannot produce a model; the message says why (goes into training.failed)."""


@dataclass(frozen=True)
class TrainingConfig:
    family: str = "logistic"
    holdout_fraction: float = 0.2
    cv_folds: int = 3
    seed: int = 42
    min_rows: int = 20
    #: Family `auto`: estimated single-thread seconds its search may spend (search.plan).
    search_budget_s: float = 8.0


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
    fit_idx, holdout_idx = split_indices(rows, holdout_fraction)
    return [rows[i] for i in fit_idx], [rows[i] for i in holdout_idx]


def split_indices(
    rows: Sequence[LabelledRow], holdout_fraction: float
) -> tuple[list[int], list[int]]:
    """`temporal_split` as positions in `rows`, after dropping exact copies (same features
    and label) of an earlier-observed row: a re-uploaded row never judges the model it
    trained (a holdout of copies had scored 1.000)."""
    ordered = distinct(sorted(range(len(rows)), key=lambda i: rows[i].observed_at), rows)
    cut = len(ordered) - max(1, round(len(ordered) * holdout_fraction))
    return ordered[:cut], ordered[cut:]


def distinct(order: Sequence[int], rows: Sequence[LabelledRow]) -> list[int]:
    """The positions of `order` whose row is not an exact copy of one before it."""
    seen: set[bytes] = set()
    kept = []
    for i in order:
        key = orjson.dumps(rows[i].features, option=orjson.OPT_SORT_KEYS) + rows[i].label.encode()
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


class Recipe(Protocol):
    """How a dataset's model is fitted (recipes.py): the fitted model and its parameters."""

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        folds: int,
        seed: int,
        sample_weight: np.ndarray | None = None,
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
    refitted best pipeline and its parameters. Weights go to the final estimator's fit."""
    regression = y.dtype.kind == "f"
    searcher = GridSearchCV(
        pipeline,
        grid,
        cv=(KFold if regression else StratifiedKFold)(folds, shuffle=True, random_state=seed),
        scoring="neg_mean_absolute_error" if regression else "accuracy",
        n_jobs=1,
        refit=True,
    )
    try:
        if sample_weight is None:
            searcher.fit(x, y)
        else:
            searcher.fit(x, y, model__sample_weight=sample_weight)
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
    """Fit on the older rows, judge on the newest. `sample_weight`, if given, holds one
    weight per row of `rows` (in that order); the fit receives those of its rows."""
    if not rows:
        raise TrainingError(f"no labelled rows for dataset {schema.name!r}: nothing to train on")
    if len(rows) < config.min_rows:
        raise TrainingError(f"need at least {config.min_rows} labelled rows, have {len(rows)}")
    if sample_weight is not None and len(sample_weight) != len(rows):
        raise TrainingError(f"{len(sample_weight)} sample weights for {len(rows)} rows")
    fit_idx, holdout_idx = split_indices(rows, config.holdout_fraction)
    fit_rows, holdout = [rows[i] for i in fit_idx], [rows[i] for i in holdout_idx]
    weight = None if sample_weight is None else np.asarray(sample_weight, float)[fit_idx]
    y_fit = _targets(schema, fit_rows)
    folds = _folds(schema, y_fit, config)
    x_fit = feature_matrix(schema, [r.features for r in fit_rows])
    # One thread per fit: OpenMP's threads (HistGradientBoosting) on a busy 2-core machine
    # had made an 800-row grid search take 15 s instead of 2 s; the worker is one process.
    with threadpool_limits(limits=1):
        if recipe is None:  # the trainer's default family (see recipes.py for specs)
            pipeline, params = default_fit(schema, config, (x_fit, y_fit, weight), folds)
        else:
            pipeline, params = recipe.fit(x_fit, y_fit, folds, config.seed, weight)
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


def default_fit(
    schema: DatasetSchema,
    config: TrainingConfig,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    folds: int,
) -> tuple[Any, dict[str, Any]]:
    """The configured family: `auto` searches the catalogue, any other its own grid."""
    x, y, weight = data
    if config.family == AUTO:
        return run_auto(schema, data, folds, config.seed, config.search_budget_s)
    estimator, grid = family_space(schema, config.family)
    estimator = sklearn.base.clone(estimator).set_params(random_state=config.seed)
    return search(build_pipeline(schema, estimator), grid, x, y, folds, config.seed, weight)


def run_auto(
    schema: DatasetSchema,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    folds: int,
    seed: int,
    budget_s: float,
) -> tuple[Any, dict[str, Any]]:
    try:
        return auto.run(
            schema, lambda estimator: build_pipeline(schema, estimator), data, folds, seed, budget_s
        )
    except ValueError as exc:  # e.g. a feature with no value at all in the training rows
        raise TrainingError(f"scikit-learn could not fit the rows: {exc}") from exc


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
