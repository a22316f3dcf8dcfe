"""A model trained elsewhere: what is checked before it is trusted, and what it becomes."""

from __future__ import annotations

import io
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import skops.io as sio
from driftloop_contracts import DatasetSchema
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import InvalidInput
from driftloop_ml import ModelArtifact, dump_artifact, feature_matrix
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer import external
from driftloop_trainer.training import TrainingConfig, build_pipeline, train
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

SCHEMA: DatasetSchema = CreditScenario.schema
PICKLES = external.FilePolicy(allow_pickle=True)  # TRAINER_ALLOW_PICKLE_UPLOADS=true
USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rows(n: int = 300, seed: int = 3) -> list[LabelledRow]:
    drawn = CreditScenario(seed).draw(n, "before")
    return [
        LabelledRow(f, y, T0 + timedelta(minutes=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def fitted_elsewhere(estimator: object = None, labels: list[str] | None = None) -> object:
    """A pipeline fitted outside driftloop on the schema's features."""
    data = rows(200, seed=11)
    x = feature_matrix(SCHEMA, [r.features for r in data])
    y = np.array(labels * 100 if labels else [r.label for r in data])
    return build_pipeline(SCHEMA, estimator or LogisticRegression()).fit(x, y)


def joblib_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def test_a_fitted_pipeline_in_a_skops_file_is_admitted_and_evaluated_on_the_newest_rows() -> None:
    data = sio.dumps(fitted_elsewhere())
    file = external.read(data, SCHEMA)
    lineage = external.lineage(data, file, "alice", "churn.skops")
    model = external.candidate(file, SCHEMA, rows(), TrainingConfig(), lineage)
    assert model.metrics.rows == 60  # the newest 20 %, as a trained run would hold out
    assert model.metrics.accuracy > 0.6
    assert model.classes == ("no", "yes")
    assert model.training_rows == 0
    assert model.params["source"] == "external"
    assert model.params["uploaded_by"] == "alice"
    assert model.params["file_format"] == "skops"
    assert model.params["estimator"] == "sklearn.pipeline.Pipeline"
    assert len(model.params["file_sha256"]) == 64


def test_a_driftloop_artifact_is_read_with_the_libraries_it_was_trained_with() -> None:
    trained = train(SCHEMA, rows(), TrainingConfig())
    artifact = ModelArtifact(trained.pipeline, SCHEMA, trained.classes, {"scikit-learn": "1.0"})
    data = dump_artifact(artifact)
    file = external.read(data, SCHEMA)
    assert file.format == "driftloop-artifact"
    assert external.lineage(data, file, "bob", None)["trained_with"] == {"scikit-learn": "1.0"}


class Detonator:
    """Unpickling this creates the file `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("dump", [joblib_bytes, pickle.dumps], ids=["joblib", "pickle"])
def test_a_pickle_upload_is_refused_by_default_saying_to_save_with_skops(
    dump: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(external.UnsupportedModelFile) as refused:
        external.read(dump(Detonator(marker)), SCHEMA)
    assert refused.value.status_code == 415
    assert 'skops.io.dump(model, "model.skops")' in str(refused.value)
    assert "TRAINER_ALLOW_PICKLE_UPLOADS=true" in str(refused.value)
    assert not marker.exists()


@pytest.mark.parametrize("dump", [joblib_bytes, pickle.dumps], ids=["joblib", "pickle"])
def test_a_pickle_upload_is_read_where_the_trainer_allows_pickles(dump: Any) -> None:
    assert external.read(dump(fitted_elsewhere()), SCHEMA, PICKLES).format == "pickle"


def test_an_allowed_pickle_is_refused_if_its_artifact_would_not_load_at_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(USER_MODELS))
    from driftloop_example_models.custom import make_estimator

    data = rows(200, seed=11)
    x = feature_matrix(SCHEMA, [r.features for r in data])
    model = make_estimator(SCHEMA).fit(x, np.array([r.label for r in data]))

    with pytest.raises(InvalidInput, match=r"driftloop_example_models\.custom\.Clip.*TRUSTED_MOD"):
        external.read(joblib_bytes(model), SCHEMA, PICKLES)
    trusted = external.FilePolicy(("driftloop_example_models",), allow_pickle=True)
    assert external.read(joblib_bytes(model), SCHEMA, trusted).format == "pickle"
    assert external.read(sio.dumps(model), SCHEMA, trusted).format == "skops"
    with pytest.raises(InvalidInput, match=r"not trusted: \['driftloop_example_models"):
        external.read(sio.dumps(model), SCHEMA)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a model", r"not a skops, joblib or pickle file"),
        (b"PK\x03\x04 not a zip", r"not a skops file"),
        (joblib_bytes({"weights": [1, 2]}), r"holds a dict, not an estimator"),
        (sio.dumps(LinearRegression().fit([[0], [1]], [0, 1])), r"it has no predict_proba"),
        (
            sio.dumps(LogisticRegression().fit([[0, 1, 2], [1, 2, 3]], ["no", "yes"])),
            r"cannot predict rows of dataset 'demo'.*features in order: \['income'",
        ),
        (
            sio.dumps(fitted_elsewhere(DummyClassifier(), labels=["low", "high"])),
            r"classes \['high', 'low'\] do not match the target's \['no', 'yes'\]",
        ),
    ],
)
def test_a_file_that_does_not_fit_the_dataset_is_refused_saying_why(
    data: bytes, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        external.read(data, SCHEMA, PICKLES)


def test_an_artifact_of_another_dataset_is_refused_naming_both_schemas() -> None:
    other = SCHEMA.model_copy(update={"name": "other", "features": SCHEMA.features[:3]})
    artifact = ModelArtifact(fitted_elsewhere(), other, ("no", "yes"), {})
    with pytest.raises(InvalidInput, match=r"trained on dataset 'other' with features"):
        external.read(dump_artifact(artifact), SCHEMA)


def test_a_dataset_with_too_few_rows_cannot_judge_a_model() -> None:
    file = external.read(sio.dumps(fitted_elsewhere()), SCHEMA)
    with pytest.raises(InvalidInput, match=r"has 5 labelled rows; at least 20"):
        external.candidate(file, SCHEMA, rows(5), TrainingConfig(), {})


def test_warm_up_rows_cover_every_category_and_both_ends_of_each_range() -> None:
    warm = external.warm_up_rows(SCHEMA)
    for spec in SCHEMA.features:
        values = {row[spec.name] for row in warm}
        if spec.kind == "categorical":
            assert set(spec.categories or ()) <= values
        elif spec.minimum is not None and spec.maximum is not None:
            assert {spec.minimum, spec.maximum} <= values
