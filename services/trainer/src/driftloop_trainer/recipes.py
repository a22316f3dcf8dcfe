"""What a dataset's training spec means: the estimator to fit and how to search it.

A dataset registered with a `TrainingSpec` trains with it; without one, with the trainer's
`TRAINER_MODEL_FAMILY`. Two kinds of recipe:

- a **family** from the catalogue (`training.family_space`: classifiers or regressors, by the
  target), its grid replaced by the spec's `search_space` (every key must be a parameter of
  the family's estimator), behind the same imputation, scaling and one-hot encoding as always;
- family **`auto`** (search.py): a budgeted search over the catalogue's families by
  cross-validation (no `search_space`: the catalogue is its space);
- a user's **entry point** `package.module:make_estimator`, imported with importlib and called
  with the DatasetSchema. It returns an unfitted scikit-learn estimator or pipeline, fitted as
  it is (no search, no preprocessing added). It receives what every model here receives, at
  training and at serving: a 2-D numpy array, one column per schema feature in schema order;
  object dtype holding floats (NaN when missing) and strings, or float64 when every feature is
  numeric (the predictor's fast path). Select columns by position, e.g. a ColumnTransformer
  over `[i for i, f in enumerate(schema.features) if f.kind == "numeric"]`.

Everything that can go wrong with a spec (unknown family, a parameter the estimator lacks, an
entry point that does not import, returns no estimator, fails to fit, or predicts the wrong
shape) raises `TrainingError` with a reason naming the spec and what to fix: the run becomes a
`training.failed`, never a retried delivery.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from driftloop_contracts import DatasetSchema, TrainingSpec
from driftloop_contracts.datasets import LabelledRow

from .training import (
    AUTO,
    TrainedModel,
    TrainingConfig,
    TrainingError,
    build_pipeline,
    family_space,
    run_auto,
    search,
    train,
)

#: Rows a fitted user model is checked on before it is trusted (predict shapes).
CHECK_ROWS = 50


@dataclass(frozen=True)
class FamilyRecipe:
    """A catalogue family searched over `grid` (keys without the `model__` prefix)."""

    schema: DatasetSchema
    family: str
    grid: dict[str, list[Any]]
    #: The grid came from the dataset's spec (its errors are the spec's to fix).
    custom: bool = False

    @property
    def source(self) -> str:
        return f"family {self.family!r}"

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        folds: int,
        seed: int,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        estimator = sklearn.base.clone(family_space(self.schema, self.family)[0])
        if "random_state" in estimator.get_params(deep=False):
            estimator.set_params(random_state=seed)
        grid = {f"model__{k}": v for k, v in self.grid.items()}
        pipeline = build_pipeline(self.schema, estimator)
        try:
            return search(pipeline, grid, x, y, folds, seed, sample_weight)
        except Exception as exc:
            if not self.custom:
                raise
            last = [line for line in str(exc).splitlines() if line.strip()][-1:]  # the cause
            raise TrainingError(
                f"{self.source} with search_space {self.grid} could not fit: "
                f"{' '.join(last) or type(exc).__name__}; fix the values in the dataset's "
                "training spec"
            ) from exc


@dataclass(frozen=True)
class AutoRecipe:
    """Family `auto`: the budgeted search over every catalogue family (search.py)."""

    schema: DatasetSchema
    budget_s: float

    @property
    def source(self) -> str:
        return "family 'auto'"

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        folds: int,
        seed: int,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        return run_auto(self.schema, (x, y, sample_weight), folds, seed, self.budget_s)


@dataclass(frozen=True)
class EntryPointRecipe:
    """A user's estimator, fitted as returned; checked before it becomes a candidate."""

    schema: DatasetSchema
    entry_point: str
    make: Callable[[DatasetSchema], Any] = field(repr=False)

    @property
    def source(self) -> str:
        return f"entry point {self.entry_point!r}"

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        folds: int,
        seed: int,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Weights reach the user's fit only if it takes `sample_weight`; else it is fitted
        unweighted (and its params say so)."""
        estimator = self.build()
        weighted = sample_weight is not None and accepts_weights(estimator)
        try:
            if weighted:
                estimator.fit(x, y, sample_weight=sample_weight)
            else:
                estimator.fit(x, y)
        except Exception as exc:
            raise self.error(f"fit failed: {type(exc).__name__}: {exc}") from exc
        self.check(estimator, x[:CHECK_ROWS])
        params: dict[str, Any] = {"entry_point": self.entry_point, "estimator": _name(estimator)}
        if sample_weight is not None:
            params["weighted"] = weighted
        return estimator, params

    def build(self) -> Any:
        try:
            estimator = self.make(self.schema)
        except Exception as exc:
            raise self.error(f"raised {type(exc).__name__}: {exc}") from exc
        missing = [m for m in self.required() if not callable(getattr(estimator, m, None))]
        if missing:
            raise self.error(
                f"returned {_name(estimator)}, not a scikit-learn estimator: it has no "
                f"{', '.join(missing)}; return an unfitted estimator or Pipeline"
            )
        return estimator

    def required(self) -> list[str]:
        methods = ["fit", "predict"]
        return methods if self.schema.target.is_regression else [*methods, "predict_proba"]

    def check(self, fitted: Any, x: np.ndarray) -> None:
        """Predicts one value per row; for classification, one probability per class."""
        rows = len(x)
        try:
            predicted = np.asarray(fitted.predict(x))
            proba = (
                None if self.schema.target.is_regression else np.asarray(fitted.predict_proba(x))
            )
        except Exception as exc:
            raise self.error(
                f"the fitted model cannot predict: {type(exc).__name__}: {exc}"
            ) from exc
        if predicted.shape != (rows,):
            raise self.error(
                f"predict returned shape {predicted.shape} for {rows} rows; want ({rows},)"
            )
        if proba is None:
            return
        classes = getattr(fitted, "classes_", None)
        if classes is None:
            raise self.error("the fitted model has no classes_; a classifier must set it in fit")
        if proba.shape != (rows, len(classes)):
            raise self.error(
                f"predict_proba returned shape {proba.shape} for {rows} rows and "
                f"{len(classes)} classes; want ({rows}, {len(classes)})"
            )
        unknown = sorted(set(map(str, classes)) - set(self.schema.target.classes))
        if unknown:
            raise self.error(f"classes_ holds labels the target does not have: {unknown}")

    def error(self, what: str) -> TrainingError:
        return TrainingError(f"{self.source} for dataset {self.schema.name!r}: {what}")


def accepts_weights(estimator: Any) -> bool:
    """Whether `estimator.fit` takes `sample_weight` (a Pipeline's never does by that name)."""
    try:
        return "sample_weight" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return False


Recipe = FamilyRecipe | AutoRecipe | EntryPointRecipe


def resolve(
    spec: TrainingSpec | None, schema: DatasetSchema, default_family: str, budget_s: float = 8.0
) -> Recipe:
    """The recipe a dataset trains with; TrainingError if its spec cannot be used. `budget_s`
    is family `auto`'s search budget."""
    if spec is None:
        return family(schema, default_family, None, budget_s)
    if spec.entry_point is not None:
        return EntryPointRecipe(schema, spec.entry_point, load_entry_point(spec.entry_point))
    assert spec.family is not None  # the contract's validator: one of the two
    return family(schema, spec.family, spec.search_space, budget_s)


def family(
    schema: DatasetSchema,
    name: str,
    search_space: dict[str, tuple[Any, ...]] | None,
    budget_s: float = 8.0,
) -> FamilyRecipe | AutoRecipe:
    if name == AUTO:
        if search_space is not None:
            raise TrainingError(
                f"training spec of dataset {schema.name!r}: family 'auto' searches the "
                "catalogue's own space; drop `search_space`, or name one family to search it"
            )
        return AutoRecipe(schema, budget_s)
    try:
        estimator, default_grid = family_space(schema, name)
    except TrainingError as exc:
        raise TrainingError(
            f"training spec of dataset {schema.name!r}: family {name!r} is not in the "
            f"catalogue ({exc})"
        ) from exc
    if search_space is None:
        return FamilyRecipe(
            schema, name, {k.removeprefix("model__"): v for k, v in default_grid.items()}
        )
    known = estimator.get_params(deep=False)
    unknown = sorted(set(search_space) - set(known))
    if unknown:
        raise TrainingError(
            f"training spec of dataset {schema.name!r}: {unknown} are not parameters of "
            f"family {name!r} ({type(estimator).__name__}); it has {sorted(known)}"
        )
    return FamilyRecipe(schema, name, {k: list(v) for k, v in search_space.items()}, custom=True)


def load_entry_point(entry_point: str) -> Callable[[DatasetSchema], Any]:
    """Import `package.module:function`; TrainingError saying how to install it if it fails."""
    module_name, _, attribute = entry_point.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TrainingError(
            f"entry point {entry_point!r}: cannot import {module_name!r} "
            f"({type(exc).__name__}: {exc}); install the package with the trainer "
            "(pip install into its image, or PYTHONPATH for `driftloop up`)"
        ) from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise TrainingError(
            f"entry point {entry_point!r}: module {module_name!r} has no callable "
            f"{attribute!r}; define {attribute}(schema) returning an unfitted estimator"
        )
    return function  # type: ignore[no-any-return]


def _name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def train_with(
    spec: TrainingSpec | None,
    schema: DatasetSchema,
    rows: Sequence[LabelledRow],
    config: TrainingConfig,
    sample_weight: np.ndarray | None = None,
) -> TrainedModel:
    """Train `rows` with the dataset's spec; anything a user's model raises on the way (in
    fit, on the holdout, in the profile) is a TrainingError naming its entry point.
    `sample_weight`: one weight per row of `rows`, or None (see training.train)."""
    if spec is None:  # the trainer's default family, exactly as before specs existed
        return train(schema, rows, config, sample_weight=sample_weight)
    recipe = resolve(spec, schema, config.family, config.search_budget_s)
    try:
        return train(schema, rows, config, recipe, sample_weight)
    except TrainingError:
        raise
    except Exception as exc:
        if isinstance(recipe, EntryPointRecipe):
            raise recipe.error(f"failed on the holdout: {type(exc).__name__}: {exc}") from exc
        raise
