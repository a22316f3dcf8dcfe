"""Importance weights toward a shifted input distribution, and the champion measured on it.

After a covariate shift P(x) changed and P(y|x) did not: rows observed before the onset still
teach the concept, but a model fitted on all of them spends its capacity where the old rows
were. A domain classifier (logistic regression, old rows against new) gives each old row
p/(1-p) of being new, scaled by the old:new row ratio: the density ratio p_new(x)/p_old(x).
Weights are clipped to [1/clip, clip] (a few rows must not own the fit) and new rows weigh 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sklearn
from driftloop_contracts import DatasetSchema
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import feature_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from .retrains import Evidence
from .training import build_pipeline

#: Fewest rows on each side of the onset to fit a domain classifier on.
MIN_SIDE_ROWS = 20


def importance_weights(
    schema: DatasetSchema, rows: Sequence[LabelledRow], onset: datetime, clip: float
) -> np.ndarray | None:
    """One weight per row (aligned with `rows`), or None when either side of the onset has
    too few rows to tell them apart (then the fit is unweighted)."""
    new = np.array([r.observed_at >= onset for r in rows])
    n_new, n_old = int(new.sum()), int((~new).sum())
    if min(n_new, n_old) < MIN_SIDE_ROWS:
        return None
    x = feature_matrix(schema, [r.features for r in rows])
    domain = build_pipeline(schema, LogisticRegression(max_iter=1000))
    domain.fit(x, new.astype(int))
    p = np.clip(domain.predict_proba(x)[:, 1], 1e-6, 1 - 1e-6)
    ratio = p / (1 - p) * (n_old / n_new)
    weights = np.where(new, 1.0, np.clip(ratio, 1 / clip, clip))
    return np.asarray(weights, dtype=float)


def measure(
    schema: DatasetSchema,
    champion: Any,
    rows: Sequence[LabelledRow],
    onset: datetime,
    folds: int,
    seed: int,
) -> Evidence | None:
    """The champion's accuracy on the rows observed after `onset`, beside its own model
    (same pipeline and hyper-parameters, unfitted) cross-validated on them. None when the
    rows cannot be cross-validated (a class with fewer rows than folds)."""
    post = [r for r in rows if r.observed_at >= onset]
    y = np.array([r.label for r in post])
    counts = np.unique(y, return_counts=True)[1] if len(y) else np.array([0])
    k = min(folds, int(counts.min())) if len(counts) >= 2 else 0
    if k < 2:
        return None
    x = feature_matrix(schema, [r.features for r in post])
    held = np.asarray(champion.predict(x)).astype(str) == y
    refit = sklearn.base.clone(champion)
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)
    refitted = np.asarray(cross_val_predict(refit, x, y, cv=cv, n_jobs=1)).astype(str) == y
    return Evidence(
        rows=len(post),
        champion_accuracy=float(held.mean()),
        refit_accuracy=float(refitted.mean()),
        folds=k,
        wins=int((refitted & ~held).sum()),
        losses=int((held & ~refitted).sum()),
    )
