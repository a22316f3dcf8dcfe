"""The first retrain of a drift, fast: the champion's own pipeline refitted on the new rows.

Before a drift retrain fits, the run has already measured the champion beside its own
pipeline (same family and hyper-parameters, unfitted) cross-validated on the post-onset rows
(weights.measure), and trains only because that refit pays. So the first step of the chain
(`Train.refit_champion`) fits exactly that model, once, on the run's rows: no search. On a
concept-drift stream this put a model trained on the new concept in front of the gate in about
a second instead of after a search of 10 to 25 s, while the stream went on being served by a
champion scoring 0.33. The follow-ups (on twice the rows, and more) search as usual, and the
gate and the live trial decide whether they do better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from driftloop_contracts import DatasetSchema
from driftloop_contracts.datasets import LabelledRow
from sklearn.pipeline import Pipeline

from .training import (
    REGRESSION_SEARCH_SPACES,
    SEARCH_SPACES,
    TrainedModel,
    TrainingConfig,
    train,
)

#: Hyper-parameters `auto` also sets (search.py), recorded when the estimator has them.
ALSO_RECORDED = ("max_iter", "n_estimators")


@dataclass(frozen=True)
class ChampionRecipe:
    """Fit an unfitted clone of the champion's pipeline (a `training.Recipe`)."""

    pipeline: Any
    version: int

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        folds: int,
        seed: int,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        model = sklearn.base.clone(self.pipeline)
        if sample_weight is not None and _final_step(model) is not None:
            model.fit(x, y, model__sample_weight=sample_weight)
        else:
            model.fit(x, y)
        return model, {**described(model), "refit_of": self.version}


def refit(
    schema: DatasetSchema,
    champion: Any,
    version: int,
    rows: Sequence[LabelledRow],
    config: TrainingConfig,
    sample_weight: np.ndarray | None = None,
) -> TrainedModel:
    """The champion's pipeline fitted on `rows` (older rows fit, newest judge, as always)."""
    return train(schema, rows, config, ChampionRecipe(champion, version), sample_weight)


def described(model: Any) -> dict[str, Any]:
    """The refitted model's family and the hyper-parameters its family searches over (the
    estimator's class name when it is none of the catalogue's)."""
    estimator = _final_step(model)
    if estimator is None:
        return {"family": type(model).__name__}
    catalogue = [*SEARCH_SPACES.items(), *REGRESSION_SEARCH_SPACES.items()]
    for family, (template, grid) in catalogue:
        if type(estimator) is type(template):
            params = estimator.get_params(deep=False)
            names = [*(k.removeprefix("model__") for k in grid), *ALSO_RECORDED]
            return {"family": family, **{k: params[k] for k in names if k in params}}
    return {"family": type(estimator).__name__}


def _final_step(model: Any) -> Any | None:
    if isinstance(model, Pipeline) and "model" in model.named_steps:
        return model.named_steps["model"]
    return None
