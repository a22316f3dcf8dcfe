"""A user's model holding a class of the user's own package: `Clip`, a transformer that
bounds numbers. Its artifact loads only where `DRIFTLOOP_TRUSTED_MODULES` names this package
(e.g. `driftloop_example_models`) on the registry and the predictor: the artifact cannot vouch
for its own code."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier


class Clip(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Numbers bounded to the 1st..99th percentiles seen in fit."""

    def __init__(self, quantile: float = 0.01) -> None:
        self.quantile = quantile

    def fit(self, x: Any, y: Any = None) -> Clip:
        values = np.asarray(x, dtype=float)
        self.low_ = np.nanquantile(values, self.quantile, axis=0)
        self.high_ = np.nanquantile(values, 1 - self.quantile, axis=0)
        return self

    def transform(self, x: Any) -> Any:
        return np.clip(np.asarray(x, dtype=float), self.low_, self.high_)


def make_estimator(schema: Any) -> Pipeline:
    """credit.py's tree, with the numbers clipped first."""
    numeric = [i for i, f in enumerate(schema.features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(schema.features) if f.kind == "categorical"]
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("clip", Clip())])
    words = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
        ]
    )
    columns = ColumnTransformer(
        [("numeric", numbers, numeric), ("categorical", words, categorical)]
    )
    return Pipeline(
        [("columns", columns), ("tree", DecisionTreeClassifier(max_depth=5, random_state=0))]
    )
