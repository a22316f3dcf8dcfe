"""Model artifacts, format 2: a skops file with its metadata beside the pipeline; loaded from
trusted types only; a pickle is never unpickled."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from driftloop_contracts import DatasetSchema
from driftloop_core import ServiceSettings
from driftloop_ml import (
    FORMAT,
    ArtifactError,
    ModelArtifact,
    PickleRefused,
    UntrustedTypes,
    dump_artifact,
    feature_matrix,
    load_artifact,
    parse_modules,
)
from driftloop_ml.trust import covered
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import build_pipeline
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression

SCHEMA: DatasetSchema = CreditScenario.schema
USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"


@pytest.fixture(autouse=True)
def user_models_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's package is importable here; whether its types are *trusted* is the test."""
    monkeypatch.syspath_prepend(str(USER_MODELS))


def fitted(estimator: Any = None) -> Any:
    drawn = CreditScenario(5).draw(200, "before")
    x = feature_matrix(SCHEMA, drawn.features)
    pipeline = build_pipeline(SCHEMA, estimator or LogisticRegression(max_iter=500))
    return pipeline.fit(x, np.array(drawn.labels))


def user_model() -> Any:
    from driftloop_example_models.custom import make_estimator

    drawn = CreditScenario(5).draw(200, "before")
    x = feature_matrix(SCHEMA, drawn.features)
    return make_estimator(SCHEMA).fit(x, np.array(drawn.labels))


def artifact_bytes(pipeline: Any) -> bytes:
    return dump_artifact(ModelArtifact(pipeline, SCHEMA, ("no", "yes"), {"scikit-learn": "x"}))


class Detonator:
    """Unpickling this creates the file `marker`: what a hostile pickle in the store does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_an_artifact_is_a_skops_file_with_its_metadata_beside_the_pipeline() -> None:
    data = artifact_bytes(fitted())

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read("driftloop.json"))
    assert meta["format"] == FORMAT == "driftloop.sklearn-pipeline/2"
    assert meta["classes"] == ["no", "yes"]
    assert DatasetSchema.model_validate(meta["schema"]) == SCHEMA
    # skops itself opens it: nothing driftloop-specific is needed to inspect an artifact
    assert type(sio.loads(data, trusted=["numpy.dtype"])).__name__ == "Pipeline"


def test_a_loaded_artifact_predicts_as_the_pipeline_that_was_saved() -> None:
    pipeline = fitted()
    x = feature_matrix(SCHEMA, CreditScenario(6).draw(30, "before").features)

    loaded = load_artifact(artifact_bytes(pipeline))

    assert loaded.schema == SCHEMA and loaded.classes == ("no", "yes")
    assert loaded.library_versions == {"scikit-learn": "x"}
    np.testing.assert_allclose(loaded.pipeline.predict_proba(x), pipeline.predict_proba(x))


def test_a_format_1_artifact_is_refused_without_being_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    old = pickle.dumps({"format": "driftloop.sklearn-pipeline/1", "pipeline": Detonator(marker)})

    with pytest.raises(PickleRefused, match=r"never loaded.*Retrain the model.*skops\.io\.dump"):
        load_artifact(old)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_any_pickle_is_refused_whatever_its_protocol(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(PickleRefused):
        load_artifact(pickle.dumps(Detonator(marker), protocol=protocol))
    assert not marker.exists()


def test_a_skops_file_without_driftloop_metadata_is_not_an_artifact() -> None:
    with pytest.raises(ArtifactError, match=r"a skops file without driftloop\.json"):
        load_artifact(sio.dumps(fitted()))


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"format": "someone-else/1"}, r"says format 'someone-else/1'"),
        (["not", "a", "dict"], r"says format None"),
        ({"format": FORMAT, "schema": {"name": 1}}, r"driftloop\.json of a .* is invalid"),
        ({"format": FORMAT}, r"is invalid: 'schema'"),
    ],
    ids=["other-format", "not-a-dict", "bad-schema", "no-schema"],
)
def test_an_artifact_with_wrong_metadata_is_refused(meta: object, message: str) -> None:
    buffer = io.BytesIO(sio.dumps(fitted()))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("driftloop.json", json.dumps(meta))

    with pytest.raises(ArtifactError, match=message):
        load_artifact(buffer.getvalue())


@pytest.mark.parametrize(
    "data",
    [b"definitely not a model", b"", b"PK\x03\x04 truncated"],
    ids=["garbage", "empty", "zip"],
)
def test_bytes_that_are_no_artifact_are_an_artifact_error(data: bytes) -> None:
    with pytest.raises(ArtifactError):
        load_artifact(data)


def test_a_type_of_a_module_nobody_trusted_is_refused_by_name_and_setting() -> None:
    data = artifact_bytes(user_model())

    with pytest.raises(UntrustedTypes) as refused:
        load_artifact(data)

    assert refused.value.types == ["driftloop_example_models.custom.Clip"]
    assert "DRIFTLOOP_TRUSTED_MODULES" in str(refused.value)
    assert "e.g. driftloop_example_models.custom" in str(refused.value)


@pytest.mark.parametrize(
    "modules", [("driftloop_example_models",), ("driftloop_example_models.custom",)]
)
def test_the_same_artifact_loads_where_its_module_is_trusted(modules: tuple[str, ...]) -> None:
    loaded = load_artifact(artifact_bytes(user_model()), trusted_modules=modules)

    assert type(loaded.pipeline.named_steps["columns"].transformers_[0][1][1]).__name__ == "Clip"


@pytest.mark.parametrize("modules", [("driftloop_example",), ("driftloop_example_models.other",)])
def test_a_prefix_covers_whole_module_names_only(modules: tuple[str, ...]) -> None:
    with pytest.raises(UntrustedTypes):
        load_artifact(artifact_bytes(user_model()), trusted_modules=modules)


def test_a_module_prefix_covers_its_submodules_and_nothing_beside_them() -> None:
    assert covered("my_models.churn.Clip", ["my_models"])
    assert not covered("my_models_other.Clip", ["my_models"])
    assert not covered("builtins.eval", ["my_models"])


def test_trusted_modules_are_read_as_comma_separated_prefixes() -> None:
    assert parse_modules(" my_models, other.pkg.,, ") == ("my_models", "other.pkg")
    assert parse_modules("") == ()


def test_trusted_modules_are_a_setting_of_every_service_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTLOOP_TRUSTED_MODULES", "my_models, other.pkg")
    assert ServiceSettings().trusted_modules == ("my_models", "other.pkg")
    monkeypatch.delenv("DRIFTLOOP_TRUSTED_MODULES")
    assert ServiceSettings().trusted_modules == ()


@pytest.mark.parametrize("modules", ["os", "my_models,builtins", "posix.system", "subprocess"])
def test_modules_that_run_code_cannot_be_trusted(modules: str) -> None:
    with pytest.raises(ValidationError, match=r"names modules that run code or commands"):
        ServiceSettings(trusted_modules=modules)
