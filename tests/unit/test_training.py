"""The trainer's pure training: rows in, a fitted Pipeline, metrics and reference profile out."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from driftloop_contracts import CategoricalProfile, DatasetSchema, NumericProfile
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import ModelArtifact, dump_artifact, feature_matrix, load_artifact
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import (
    PROFILE_SAMPLE,
    SEARCH_SPACES,
    TrainedModel,
    TrainingConfig,
    TrainingError,
    library_versions,
    temporal_split,
    train,
)
from sklearn.pipeline import Pipeline

SCHEMA: DatasetSchema = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def labelled_rows(n: int, seed: int = 3, phase: str = "before") -> list[LabelledRow]:
    """n scenario rows, one minute apart, oldest first."""
    drawn = CreditScenario(seed).draw(n, "after" if phase == "after" else "before")
    return [
        LabelledRow(features, label, T0 + timedelta(minutes=i))
        for i, (features, label) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def relabelled(rows: Sequence[LabelledRow], labels: Sequence[str]) -> list[LabelledRow]:
    return [
        LabelledRow(r.features, label, r.observed_at) for r, label in zip(rows, labels, strict=True)
    ]


@pytest.fixture(scope="module")
def rows() -> list[LabelledRow]:
    return labelled_rows(200)


@pytest.fixture(scope="module")
def trained(rows: list[LabelledRow]) -> TrainedModel:
    return train(SCHEMA, rows, TrainingConfig(family="logistic", cv_folds=3, seed=42))


# ----------------------------------------------------------------------------- train()


def test_train_returns_a_fitted_pipeline_that_predicts_the_schema_classes(
    trained: TrainedModel, rows: list[LabelledRow]
) -> None:
    assert isinstance(trained.pipeline, Pipeline)
    assert trained.classes == ("no", "yes")
    predicted = trained.pipeline.predict(feature_matrix(SCHEMA, [r.features for r in rows[:10]]))
    assert set(predicted.tolist()) <= {"no", "yes"}


def test_train_measures_metrics_on_the_holdout_only(trained: TrainedModel) -> None:
    assert len(trained.holdout) == 40  # 20 % of 200
    assert trained.training_rows == 160
    assert trained.metrics.rows == len(trained.holdout)
    assert 0.6 <= trained.metrics.accuracy <= 1.0
    assert 0.0 <= trained.metrics.f1_macro <= 1.0
    assert "log_loss" in trained.metrics.extra


def test_train_reports_the_chosen_hyperparameters_without_the_pipeline_prefix(
    trained: TrainedModel,
) -> None:
    _, grid = SEARCH_SPACES["logistic"]
    assert set(trained.params) == {"C"}
    assert trained.params["C"] in grid["model__C"]


def test_train_holds_out_the_newest_rows(trained: TrainedModel, rows: list[LabelledRow]) -> None:
    newest = sorted(rows, key=lambda r: r.observed_at)[-len(trained.holdout) :]
    assert trained.holdout == newest


def test_train_with_the_same_seed_gives_the_same_model(
    trained: TrainedModel, rows: list[LabelledRow]
) -> None:
    again = train(SCHEMA, rows, TrainingConfig(family="logistic", cv_folds=3, seed=42))
    assert again.params == trained.params
    assert again.metrics == trained.metrics
    assert again.profile == trained.profile


def test_reference_profile_describes_every_schema_feature(trained: TrainedModel) -> None:
    profile = trained.profile
    assert profile.dataset == SCHEMA.name
    assert profile.rows == trained.training_rows
    assert tuple(profile.features) == SCHEMA.feature_names


def test_reference_profile_samples_numeric_features_up_to_the_sample_size(
    trained: TrainedModel, rows: list[LabelledRow]
) -> None:
    fit_rows = rows[: trained.training_rows]
    for spec in SCHEMA.features:
        feature = trained.profile.features[spec.name]
        if spec.kind != "numeric":
            continue
        assert isinstance(feature, NumericProfile)
        assert len(feature.sample) == min(PROFILE_SAMPLE, trained.training_rows)
        assert feature.missing_rate == 0.0
        assert feature.quantiles["p01"] <= feature.quantiles["p50"] <= feature.quantiles["p99"]
        assert set(feature.quantiles) == {"p01", "p05", "p25", "p50", "p75", "p95", "p99"}
        # fewer rows than the sample size: the sample is every training value, shuffled
        values = [float(r.features[spec.name]) for r in fit_rows]  # type: ignore[arg-type]
        assert sorted(feature.sample) == sorted(values)
        assert math.isclose(feature.mean, float(np.mean(values)))


def test_reference_profile_categorical_frequencies_sum_to_one(trained: TrainedModel) -> None:
    for spec in SCHEMA.features:
        feature = trained.profile.features[spec.name]
        if spec.kind != "categorical":
            continue
        assert isinstance(feature, CategoricalProfile)
        assert math.isclose(sum(feature.frequencies.values()), 1.0)
        assert set(feature.frequencies) <= set(spec.categories or ())
        assert feature.rows == trained.training_rows


def test_reference_profile_predictions_are_shares_of_the_holdout(trained: TrainedModel) -> None:
    assert set(trained.profile.predictions) <= {"no", "yes"}
    assert math.isclose(sum(trained.profile.predictions.values()), 1.0)


def test_reference_profile_holdout_accuracy_is_the_metrics_accuracy(trained: TrainedModel) -> None:
    assert trained.profile.holdout_accuracy == trained.metrics.accuracy


def test_reference_profile_counts_missing_values_of_nullable_features() -> None:
    schema = DatasetSchema.model_validate(
        {
            "name": "nullable",
            "features": [
                {"name": "x", "kind": "numeric"},
                {"name": "maybe", "kind": "numeric", "nullable": True},
            ],
            "target": {"name": "y", "classes": ["a", "b"]},
        }
    )
    rng = random.Random(5)
    rows = []
    for i in range(60):
        x = rng.gauss(0, 1)
        rows.append(
            LabelledRow(
                {"x": x, "maybe": None if i % 4 == 0 else rng.gauss(0, 1)},
                "a" if x < 0 else "b",
                T0 + timedelta(minutes=i),
            )
        )

    model = train(schema, rows, TrainingConfig())

    maybe = model.profile.features["maybe"]
    fit_rows = rows[: model.training_rows]
    expected = sum(r.features["maybe"] is None for r in fit_rows) / len(fit_rows)
    assert isinstance(maybe, NumericProfile)
    assert math.isclose(maybe.missing_rate, expected)
    assert len(maybe.sample) == len(fit_rows) - sum(r.features["maybe"] is None for r in fit_rows)


@pytest.mark.parametrize("family", ["random_forest", "gradient_boosting"])
def test_the_other_model_families_also_train(family: str) -> None:
    rows = labelled_rows(80, seed=11)

    model = train(SCHEMA, rows, TrainingConfig(family=family, cv_folds=2, seed=1))

    _, grid = SEARCH_SPACES[family]
    assert set(model.params) == {k.removeprefix("model__") for k in grid}
    assert model.metrics.rows == 16
    assert model.profile.holdout_accuracy == model.metrics.accuracy
    assert model.pipeline.named_steps["model"].random_state == 1


# ------------------------------------------------------------------------ temporal_split


def test_temporal_split_keeps_the_newest_rows_as_holdout_whatever_the_input_order() -> None:
    rows = labelled_rows(50)
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)

    fit, holdout = temporal_split(shuffled, 0.2)

    assert len(fit) == 40
    assert len(holdout) == 10
    assert holdout == rows[40:]
    assert fit == rows[:40]
    assert max(r.observed_at for r in fit) < min(r.observed_at for r in holdout)


def test_temporal_split_always_holds_out_at_least_one_row() -> None:
    rows = labelled_rows(5)

    fit, holdout = temporal_split(rows, 0.0)

    assert holdout == rows[-1:]
    assert fit == rows[:-1]


# ------------------------------------------------------------------------ TrainingError


def test_train_without_rows_says_there_is_nothing_to_train_on() -> None:
    with pytest.raises(TrainingError, match=r"no labelled rows for dataset 'demo'"):
        train(SCHEMA, [], TrainingConfig())


def test_train_with_too_few_rows_says_how_many_are_needed() -> None:
    with pytest.raises(TrainingError, match=r"need at least 20 labelled rows, have 5"):
        train(SCHEMA, labelled_rows(5), TrainingConfig(min_rows=20))


def test_train_with_one_class_only_says_two_are_needed() -> None:
    rows = relabelled(labelled_rows(40), ["no"] * 40)

    with pytest.raises(TrainingError, match=r"one class only \(\['no'\]\); need at least two"):
        train(SCHEMA, rows, TrainingConfig())


def test_train_with_one_class_only_in_the_training_part_is_refused() -> None:
    # the only "yes" rows are the newest ones, which the holdout takes
    rows = relabelled(labelled_rows(40), ["no"] * 32 + ["yes"] * 8)

    with pytest.raises(TrainingError, match="one class only"):
        train(SCHEMA, rows, TrainingConfig())


def test_train_with_a_single_row_of_a_class_says_two_per_class_are_needed() -> None:
    rows = relabelled(labelled_rows(40), ["yes"] + ["no"] * 39)

    with pytest.raises(TrainingError, match=r"a class has 1 training row\(s\)"):
        train(SCHEMA, rows, TrainingConfig())


# ------------------------------------------------------------------------------- artifacts


def test_an_artifact_survives_a_dump_and_load_round_trip(
    trained: TrainedModel, rows: list[LabelledRow]
) -> None:
    artifact = ModelArtifact(trained.pipeline, SCHEMA, trained.classes, library_versions())

    loaded = load_artifact(dump_artifact(artifact))

    assert loaded.schema == SCHEMA
    assert loaded.schema.fingerprint() == SCHEMA.fingerprint()
    assert loaded.classes == ("no", "yes")
    assert loaded.library_versions == artifact.library_versions
    x = feature_matrix(SCHEMA, [r.features for r in rows[:20]])
    np.testing.assert_allclose(loaded.pipeline.predict_proba(x), trained.pipeline.predict_proba(x))


def test_library_versions_name_the_libraries_a_model_depends_on() -> None:
    assert set(library_versions()) == {"python", "scikit-learn", "numpy", "scipy"}


def test_a_nullable_feature_missing_in_every_row_is_a_training_error() -> None:
    schema = DatasetSchema.model_validate(
        {
            "name": "sparse",
            "features": [
                {"name": "x", "kind": "numeric"},
                {"name": "segment", "kind": "categorical", "nullable": True},
            ],
            "target": {"name": "y", "classes": ["a", "b"]},
        }
    )
    rows = [
        LabelledRow({"x": float(i % 7), "segment": None}, "ab"[i % 2], T0 + timedelta(minutes=i))
        for i in range(40)
    ]

    with pytest.raises(TrainingError):
        train(schema, rows, TrainingConfig(cv_folds=2))
