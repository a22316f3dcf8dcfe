"""A user's model whose fit takes `sample_weight`: the trainer passes a retrain's weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from .credit import make_estimator as credit_estimator


class WeightedTree(Pipeline):
    """The credit tree, with weights routed to the tree; records the weights it saw."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> WeightedTree:  # noqa: N803
        self.weights_seen_ = None if sample_weight is None else np.asarray(sample_weight)
        if sample_weight is None:
            return super().fit(X, y)  # type: ignore[no-any-return]
        return super().fit(X, y, tree__sample_weight=sample_weight)  # type: ignore[no-any-return]


def make_estimator(schema: Any) -> WeightedTree:
    return WeightedTree(credit_estimator(schema).steps)
