"""Training a regression target: the regressor of each family, MAE/RMSE/R2 on the holdout, a
profile of the predicted values and the holdout's absolute errors, an artifact without classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import absolute_errors, dump_artifact, load_artifact
from driftloop_ml.artifacts import ModelArtifact
from driftloop_sdk.scenario import HouseScenario
from driftloop_trainer.training import (
    REGRESSION_SEARCH_SPACES,
    TrainedModel,
    TrainingConfig,
    TrainingError,
    train,
)
from sklearn.base import is_regressor

SCHEMA = HouseScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def house_rows(n: int, phase: str = "before", seed: int = 3) -> list[LabelledRow]:
    drawn = HouseScenario(seed).draw(n, "after" if phase == "after" else "before")
    return [
        LabelledRow(f, label, T0 + timedelta(minutes=i))
        for i, (f, label) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    return train(SCHEMA, house_rows(300), TrainingConfig(family="logistic", seed=1))


def test_a_regression_target_trains_a_regressor_with_no_classes(trained: TrainedModel) -> None:
    assert is_regressor(trained.pipeline)
    assert trained.classes == ()


def test_its_holdout_metrics_are_mae_rmse_and_r2(trained: TrainedModel) -> None:
    m = trained.metrics
    assert m.is_regression
    assert m.mae is not None and m.rmse is not None and m.r2 is not None
    assert 0 < m.mae <= m.rmse
    assert m.r2 > 0.9  # the scenario is nearly linear with noise sd 12
    assert m.rows == len(trained.holdout) == 60


def test_the_metrics_match_the_holdout_errors(trained: TrainedModel) -> None:
    errors = absolute_errors(trained.pipeline, SCHEMA, trained.holdout)
    assert trained.metrics.mae == pytest.approx(float(errors.mean()))
    assert trained.metrics.rmse == pytest.approx(float(np.sqrt((errors**2).mean())))


def test_the_profile_describes_predicted_values_and_holdout_errors(trained: TrainedModel) -> None:
    profile = trained.profile
    assert profile.predictions == {}
    assert profile.predicted_values is not None
    assert 150 < profile.predicted_values.mean < 450
    assert profile.holdout_errors is not None and len(profile.holdout_errors) == 60
    assert np.mean(profile.holdout_errors) == pytest.approx(trained.metrics.mae)


def test_every_family_has_a_regressor_under_the_classification_name() -> None:
    assert {"logistic", "random_forest", "gradient_boosting"} <= set(REGRESSION_SEARCH_SPACES)
    for estimator, grid in REGRESSION_SEARCH_SPACES.values():
        assert is_regressor(estimator)
        assert set(grid) <= {f"model__{p}" for p in estimator.get_params()}


def test_a_family_trains_by_its_regression_name_too() -> None:
    model = train(SCHEMA, house_rows(120), TrainingConfig(family="linear", seed=1))
    assert is_regressor(model.pipeline) and model.metrics.r2 is not None


def test_a_family_without_a_regressor_is_a_training_error() -> None:
    with pytest.raises(TrainingError, match="no regression family 'svm'"):
        train(SCHEMA, house_rows(60), TrainingConfig(family="svm"))


def test_a_constant_target_is_a_training_error() -> None:
    rows = [LabelledRow(r.features, "5.0", r.observed_at) for r in house_rows(60)]
    with pytest.raises(TrainingError, match="nothing to learn"):
        train(SCHEMA, rows, TrainingConfig())


def test_a_regression_artifact_round_trips_without_classes(trained: TrainedModel) -> None:
    artifact = ModelArtifact(trained.pipeline, SCHEMA, (), {})
    loaded = load_artifact(dump_artifact(artifact))
    assert loaded.classes == () and loaded.is_regression
