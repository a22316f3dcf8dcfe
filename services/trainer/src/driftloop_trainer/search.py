"""Family `auto`: a budgeted search over linear models, gradient boosting and random forests.

The candidates are decided up front, from the row count, the schema's width and a cost model
(estimated single-thread seconds per fit), never from the clock mid-search: the same rows,
seed and budget always try the same candidates and so give the same model bytes. Each one is
scored by the same cross-validation folds (stratified for classes; accuracy, or negative MAE
for numbers; weighted by `sample_weight` when given), and the best (ties: the earlier, which
is the cheaper) is refitted on every training row.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from driftloop_contracts import DatasetSchema
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold

#: Columns a categorical feature without declared categories is assumed to expand to.
UNKNOWN_CATEGORIES = 8


@dataclass(frozen=True)
class Candidate:
    """One estimator configuration the search may try."""

    family: str
    params: dict[str, Any] = field(default_factory=dict)

    def estimator(self, regression: bool, seed: int) -> Any:
        make = (REGRESSORS if regression else CLASSIFIERS)[self.family]
        estimator = make()
        if "random_state" in estimator.get_params(deep=False):
            estimator.set_params(random_state=seed)
        return estimator.set_params(**self.params)

    def fit_seconds(self, rows: int, columns: int) -> float:
        """Estimated single-thread seconds of one fit on `rows` x `columns` (the cost model,
        fitted to timings on a loaded 2-core machine: see benchmarks/training.py)."""
        cell = rows * columns
        if self.family == "logistic":
            return 0.012 + 7e-7 * cell
        if self.family == "gradient_boosting":
            iterations = int(self.params.get("max_iter", 100))
            leaves = 31
            if self.params.get("max_depth") is not None:
                leaves = min(leaves, 2 ** int(self.params["max_depth"]))
            return 0.01 + iterations * (1e-4 + leaves * (3.5e-5 + 3.5e-9 * cell))
        trees = int(self.params.get("n_estimators", 100))
        per_tree = 9.4e-8 * rows * math.log2(max(rows, 2)) * math.sqrt(columns)
        return 0.01 + trees * (2e-4 + per_tree)

    def describe(self) -> dict[str, Any]:
        return {"family": self.family, **self.params}


CLASSIFIERS: dict[str, Callable[[], Any]] = {
    "logistic": lambda: LogisticRegression(max_iter=1000),
    "gradient_boosting": HistGradientBoostingClassifier,
    "random_forest": lambda: RandomForestClassifier(n_estimators=100),
}
REGRESSORS: dict[str, Callable[[], Any]] = {
    "logistic": Ridge,  # the linear family of a regression target
    "gradient_boosting": HistGradientBoostingRegressor,
    "random_forest": lambda: RandomForestRegressor(n_estimators=100),
}


def _catalogue(linear: str) -> tuple[Candidate, ...]:
    """Every family's usual default first, then its variations, cheapest families first."""
    return (
        Candidate("logistic", {linear: 1.0}),
        Candidate("gradient_boosting", {"learning_rate": 0.1, "max_iter": 100}),
        Candidate("random_forest", {"min_samples_leaf": 5}),
        Candidate("logistic", {linear: 0.1}),
        Candidate("logistic", {linear: 10.0}),
        Candidate("gradient_boosting", {"learning_rate": 0.05, "max_depth": 3, "max_iter": 200}),
        Candidate("random_forest", {"min_samples_leaf": 1, "max_depth": 12}),
        Candidate(
            "gradient_boosting",
            {
                "learning_rate": 0.1,
                "max_iter": 100,
                "l2_regularization": 1.0,
                "min_samples_leaf": 40,
            },
        ),
        Candidate("random_forest", {"min_samples_leaf": 10}),
    )


CLASSIFICATION = _catalogue("C")
REGRESSION = tuple(
    Candidate(c.family, {"alpha": 1 / c.params["C"]}) if c.family == "logistic" else c
    for c in CLASSIFICATION
)


def columns(schema: DatasetSchema) -> int:
    """Columns after one-hot encoding, as the cost model counts them."""
    return sum(
        1 if f.kind == "numeric" else (len(f.categories) if f.categories else UNKNOWN_CATEGORIES)
        for f in schema.features
    )


@dataclass(frozen=True)
class Plan:
    """The candidates a search tries, in order, and what the cost model expects them to take."""

    candidates: tuple[Candidate, ...]
    estimated_s: float
    budget_s: float
    skipped: tuple[Candidate, ...]


def plan(schema: DatasetSchema, rows: int, folds: int, budget_s: float) -> Plan:
    """Candidates in catalogue order while cross-validating them, plus refitting the dearest,
    stays within the budget; the first is always tried, whatever it costs."""
    catalogue = REGRESSION if schema.target.is_regression else CLASSIFICATION
    width = columns(schema)
    fold_rows = max(1, rows * (folds - 1) // folds)
    chosen: list[Candidate] = []
    skipped: list[Candidate] = []
    spent, refit = 0.0, 0.0
    for candidate in catalogue:
        cv = folds * candidate.fit_seconds(fold_rows, width)
        full = candidate.fit_seconds(rows, width)
        if chosen and spent + cv + max(refit, full) > budget_s:
            skipped.append(candidate)
            continue
        chosen.append(candidate)
        spent, refit = spent + cv, max(refit, full)
    return Plan(tuple(chosen), round(spent + refit, 3), budget_s, tuple(skipped))


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float


def fold_splits(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    regression = y.dtype.kind == "f"
    splitter = (KFold if regression else StratifiedKFold)(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def score(estimator: Any, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None) -> float:
    """Accuracy for classes, negative mean absolute error for numbers (weighted if given)."""
    predicted = estimator.predict(x)
    if y.dtype.kind == "f":
        return -float(np.average(np.abs(predicted - y), weights=weight))
    return float(np.average(predicted == y, weights=weight))


def fit(estimator: Any, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None) -> Any:
    """Fit a Pipeline whose last step is `model`, routing the weights to that step."""
    if weight is None:
        return estimator.fit(x, y)
    return estimator.fit(x, y, model__sample_weight=weight)


def cross_validate(
    make: Callable[[], Any],
    x: np.ndarray,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    weight: np.ndarray | None,
) -> float:
    scores = []
    for train_idx, test_idx in splits:
        w_train = None if weight is None else weight[train_idx]
        w_test = None if weight is None else weight[test_idx]
        fitted = fit(make(), x[train_idx], y[train_idx], w_train)
        scores.append(score(fitted, x[test_idx], y[test_idx], w_test))
    return round(float(np.mean(scores)), 12)


def best(scored: Sequence[Scored]) -> Scored:
    """The highest score; the earliest candidate among equals."""
    top = max(s.score for s in scored)
    return next(s for s in scored if s.score == top)


def clone(estimator: Any) -> Any:
    return sklearn.base.clone(estimator)


def run(
    schema: DatasetSchema,
    build: Callable[[Any], Any],
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    folds: int,
    seed: int,
    budget_s: float,
) -> tuple[Any, dict[str, Any]]:
    """Cross-validate the plan's candidates, refit the best on every row: the fitted
    pipeline, and its parameters with the search's record (every candidate's score)."""
    x, y, weight = data
    started = time.perf_counter()
    regression = schema.target.is_regression
    chosen = plan(schema, len(y), folds, budget_s)
    splits = fold_splits(y, folds, seed)
    scored = []
    for candidate in chosen.candidates:
        make = functools.partial(_pipeline, build, candidate, regression, seed)
        scored.append(Scored(candidate, cross_validate(make, x, y, splits, weight)))
    winner = best(scored)
    fitted = fit(build(winner.candidate.estimator(regression, seed)), x, y, weight)
    record = {
        "budget_s": budget_s,
        "estimated_s": chosen.estimated_s,
        "seconds": round(time.perf_counter() - started, 3),  # measured (the rest is fixed)
        "folds": folds,
        "scoring": "neg_mean_absolute_error" if regression else "accuracy",
        "weighted": weight is not None,
        "candidates": [{**s.candidate.describe(), "score": s.score} for s in scored],
        "skipped": [c.describe() for c in chosen.skipped],
    }
    return fitted, {**winner.candidate.describe(), "cv_score": winner.score, "search": record}


def _pipeline(build: Callable[[Any], Any], c: Candidate, regression: bool, seed: int) -> Any:
    return build(c.estimator(regression, seed))
