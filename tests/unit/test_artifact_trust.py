"""The trusted list is exactly what the models here need: derived from every family of the
trainer's catalogue and every estimator uploads are tested with, so it cannot rot either way
(a new family that needs a type fails here; a type nobody needs any more fails here too)."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest
import sklearn
import skops.io as sio
from driftloop_contracts import DatasetSchema
from driftloop_ml import TRUSTED_TYPES, feature_matrix, load_artifact
from driftloop_ml.artifacts import ModelArtifact, dump_artifact
from driftloop_ml.trust import UPLOAD_ESTIMATORS
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import REGRESSION_SEARCH_SPACES, SEARCH_SPACES, build_pipeline

SCHEMA: DatasetSchema = CreditScenario.schema
REGRESSION = SCHEMA.model_copy(
    update={"target": SCHEMA.target.model_copy(update={"kind": "regression", "classes": ()})}
)
FAMILIES = [("classification", n) for n in SEARCH_SPACES] + [
    ("regression", n) for n in REGRESSION_SEARCH_SPACES
]


def rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    drawn = CreditScenario(7).draw(200, "before")
    x = feature_matrix(SCHEMA, drawn.features)
    return x, np.array(drawn.labels), np.linspace(0.0, 1.0, len(drawn.labels))


def family_pipeline(kind: str, family: str) -> Any:
    spaces = REGRESSION_SEARCH_SPACES if kind == "regression" else SEARCH_SPACES
    estimator = sklearn.base.clone(spaces[family][0])
    if "n_estimators" in estimator.get_params():
        estimator.set_params(n_estimators=3)
    x, labels, values = rows()
    return build_pipeline(SCHEMA, estimator).fit(x, values if kind == "regression" else labels)


def upload_pipeline(path: str) -> Any:
    module, _, name = path.rpartition(".")
    estimator = getattr(importlib.import_module(module), name)()
    if "n_estimators" in estimator.get_params():
        estimator.set_params(n_estimators=3)
    x, labels, values = rows()
    regression = sklearn.base.is_regressor(estimator)
    return build_pipeline(SCHEMA, estimator).fit(x, values if regression else labels)


def needs(pipeline: Any) -> set[str]:
    """The types skops would refuse in this model without our list."""
    return set(sio.get_untrusted_types(data=sio.dumps(pipeline)))


@pytest.fixture(scope="module")
def needed() -> dict[str, set[str]]:
    models = {f"{k} {f}": family_pipeline(k, f) for k, f in FAMILIES}
    models |= {path: upload_pipeline(path) for path in UPLOAD_ESTIMATORS}
    return {name: needs(model) for name, model in models.items()}


def test_every_family_and_upload_estimator_needs_only_trusted_types(
    needed: dict[str, set[str]],
) -> None:
    missing = {name: sorted(types - set(TRUSTED_TYPES)) for name, types in needed.items()}
    assert {name: types for name, types in missing.items() if types} == {}


def test_every_trusted_type_is_needed_by_some_family_or_upload_estimator(
    needed: dict[str, set[str]],
) -> None:
    used = set().union(*needed.values())
    assert sorted(set(TRUSTED_TYPES) - used) == []


@pytest.mark.parametrize(("kind", "family"), FAMILIES, ids=[f"{k}-{f}" for k, f in FAMILIES])
def test_every_family_loads_from_its_artifact_with_no_module_trusted(
    kind: str, family: str
) -> None:
    pipeline = family_pipeline(kind, family)
    schema = REGRESSION if kind == "regression" else SCHEMA
    classes = () if kind == "regression" else ("no", "yes")
    x = rows()[0][:20]

    loaded = load_artifact(dump_artifact(ModelArtifact(pipeline, schema, classes, {})))

    np.testing.assert_allclose(loaded.pipeline.predict(x) == pipeline.predict(x), True)
