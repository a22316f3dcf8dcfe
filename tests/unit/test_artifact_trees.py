"""Trees from a file are checked before they predict: scikit-learn follows their node indices
without bounds checks, so a crafted artifact could read out of bounds or crash the predictor.
(These tests never call predict on a crafted tree.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from driftloop_contracts import DatasetSchema
from driftloop_ml import ArtifactError, ModelArtifact, dump_artifact, feature_matrix, load_artifact
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import build_pipeline
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.tree._tree import Tree

SCHEMA: DatasetSchema = CreditScenario.schema


def fitted(estimator: Any) -> Any:
    drawn = CreditScenario(8).draw(300, "before")
    x = feature_matrix(SCHEMA, drawn.features)
    return build_pipeline(SCHEMA, estimator).fit(x, np.array(drawn.labels))


def reloaded(pipeline: Any) -> Any:
    return load_artifact(dump_artifact(ModelArtifact(pipeline, SCHEMA, ("no", "yes"), {})))


def with_nodes(tree: Tree, change: Callable[[np.ndarray], None]) -> Tree:
    """A copy of `tree` whose node array was edited, as a crafted file would hold it."""
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    change(nodes)
    crafted = Tree(tree.n_features, np.asarray(tree.n_classes, dtype=np.intp), tree.n_outputs)
    crafted.__setstate__({**state, "nodes": nodes})
    return crafted


def forest_with(change: Callable[[np.ndarray], None]) -> Any:
    pipeline = fitted(RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0))
    tree = pipeline.named_steps["model"].estimators_[1]
    tree.tree_ = with_nodes(tree.tree_, change)
    return pipeline


def root_left(value: int) -> Callable[[np.ndarray], None]:
    def change(nodes: np.ndarray) -> None:
        nodes["left_child"][0] = value

    return change


def test_sound_forests_and_boosted_trees_load() -> None:
    reloaded(fitted(RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0)))
    reloaded(fitted(HistGradientBoostingClassifier(max_iter=3)))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (root_left(10**6), r"child is out of range"),
        (root_left(0), r"child is out of range"),  # a loop: predict would never end
        (root_left(-5), r"child is out of range"),
    ],
    ids=["past-the-end", "loop", "negative"],
)
def test_a_forest_whose_tree_points_outside_its_nodes_is_refused(
    change: Callable[[np.ndarray], None], reason: str
) -> None:
    with pytest.raises(ArtifactError, match=reason):
        reloaded(forest_with(change))


def test_a_forest_whose_tree_splits_on_a_column_it_is_not_given_is_refused() -> None:
    def change(nodes: np.ndarray) -> None:
        nodes["feature"][0] = 10_000

    with pytest.raises(ArtifactError, match=r"splits on a column it is not given"):
        reloaded(forest_with(change))


def boosted_with(field: str, value: int) -> Any:
    pipeline = fitted(HistGradientBoostingClassifier(max_iter=3))
    predictor = pipeline.named_steps["model"]._predictors[1][0]
    predictor.nodes = predictor.nodes.copy()
    predictor.nodes[field][0] = value
    return pipeline


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("left", 10**6, r"child is out of range"),
        ("right", 0, r"child is out of range"),
        ("feature_idx", 999, r"splits on a column it is not given"),
        ("is_categorical", 1, r"native categorical splits"),
    ],
)
def test_a_boosted_model_whose_tree_is_out_of_range_is_refused(
    field: str, value: int, reason: str
) -> None:
    with pytest.raises(ArtifactError, match=reason):
        reloaded(boosted_with(field, value))
