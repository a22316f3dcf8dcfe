"""Decision trees from a file are checked before they predict.

scikit-learn's tree code (`Tree`, and HistGradientBoosting's `TreePredictor`) follows node
indices without bounds checks, so a crafted file whose nodes point outside their array makes
predict read out of bounds or crash the process; skops leaves both types out of its defaults
for that reason. `trust.TRUSTED_TYPES` trusts them because the families need them, and every
load checks them here: every split's children come after it and inside the array (so every
walk ends at a leaf), and every split's feature is a column the estimator is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.tree._tree import Tree

from .errors import ArtifactError

_SCALARS = (str, bytes, int, float, complex, bool, type(None), np.generic)


def check_trees(root: Any) -> None:
    """ArtifactError if any tree reachable from `root` has a node index out of range."""
    seen: set[int] = set()
    stack: list[tuple[Any, int | None]] = [(root, None)]
    while stack:
        obj, n_features = stack.pop()
        if isinstance(obj, _SCALARS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tree):
            _check_tree(obj, n_features)
        elif isinstance(obj, TreePredictor):
            _check_predictor(obj, n_features)
        else:
            n_features = _n_features(obj, n_features)
            stack.extend((child, n_features) for child in _children(obj))


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, np.ndarray):
        return list(obj.ravel()) if obj.dtype == object else []
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        return list(obj)
    return list(vars(obj).values()) if hasattr(obj, "__dict__") else []


def _n_features(obj: Any, inherited: int | None) -> int | None:
    """The columns an estimator is given (its own `n_features_in_`, else its parent's)."""
    if isinstance(obj, np.ndarray | dict | list | tuple | set | frozenset):
        return inherited
    own = getattr(obj, "n_features_in_", None)
    return int(own) if isinstance(own, int | np.integer) else inherited


def _check_tree(tree: Tree, n_features: int | None) -> None:
    n = int(tree.node_count)
    columns = min(int(tree.n_features), n_features or int(tree.n_features))
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    split = left != -1  # sklearn's leaf marker
    _check_nodes("decision tree", n, np.flatnonzero(split), left, right, feature, columns)
    if np.asarray(tree.value).shape[0] != n:
        raise ArtifactError(f"a decision tree has {n} nodes but values for another count")


def _check_predictor(predictor: TreePredictor, n_features: int | None) -> None:
    nodes = predictor.nodes
    if n_features is None:
        raise ArtifactError("a gradient-boosting tree outside any estimator: refused")
    split = np.flatnonzero(nodes["is_leaf"] == 0)
    if np.any(nodes["is_categorical"][split]):
        raise ArtifactError(
            "a gradient-boosting tree with native categorical splits: not loaded (their "
            "bitsets cannot be checked); one-hot or ordinal encode the categories instead"
        )
    left, right, feature = nodes["left"], nodes["right"], nodes["feature_idx"]
    _check_nodes("gradient-boosting tree", len(nodes), split, left, right, feature, n_features)


def _check_nodes(
    what: str,
    n: int,
    split: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    columns: int,
) -> None:
    if n < 1:
        raise ArtifactError(f"a {what} with no nodes: refused")
    for side in (left, right):
        child = np.asarray(side)[split].astype(np.int64)
        if np.any(child <= split) or np.any(child >= n):
            raise ArtifactError(f"a {what} has a split whose child is out of range: refused")
    used = np.asarray(feature)[split].astype(np.int64)
    if np.any(used < 0) or np.any(used >= columns):
        raise ArtifactError(f"a {what} splits on a column it is not given: refused")
