"""A user's model for any classification schema: a decision tree behind the user's own
preprocessing. The trainer calls `make_estimator(schema)` and fits what it returns on a 2-D
array whose columns are the schema's features in order (floats and strings, NaN if missing)."""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier


def make_estimator(schema: Any) -> Pipeline:
    numeric = [i for i, f in enumerate(schema.features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(schema.features) if f.kind == "categorical"]
    columns = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        (
                            "encode",
                            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                        ),
                    ]
                ),
                categorical,
            ),
        ]
    )
    return Pipeline(
        [("columns", columns), ("tree", DecisionTreeClassifier(max_depth=5, random_state=0))]
    )
