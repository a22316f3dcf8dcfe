"""A dataset's training spec: which estimator it trains with, and every way a spec goes wrong
ends in a reason that names the spec and what to fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from driftloop_contracts import DatasetSchema, TrainingSpec
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import feature_matrix
from driftloop_sdk.scenario import CreditScenario, HouseScenario
from driftloop_trainer.recipes import EntryPointRecipe, FamilyRecipe, resolve, train_with
from driftloop_trainer.training import TrainingConfig, TrainingError

SCHEMA: DatasetSchema = CreditScenario.schema
USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def user_models_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As PYTHONPATH would put a user's package on the trainer's path."""
    monkeypatch.syspath_prepend(str(USER_MODELS))


def rows(n: int = 300) -> list[LabelledRow]:
    drawn = CreditScenario(3).draw(n, "before")
    return [
        LabelledRow(f, y, T0 + timedelta(minutes=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def entry(name: str) -> TrainingSpec:
    return TrainingSpec(entry_point=f"driftloop_example_models.{name}")


def test_without_a_spec_a_dataset_trains_with_the_default_family() -> None:
    recipe = resolve(None, SCHEMA, "random_forest")
    assert isinstance(recipe, FamilyRecipe)
    assert recipe.family == "random_forest"
    assert recipe.grid == {"max_depth": [6, 12], "min_samples_leaf": [1, 5]}


def test_a_family_spec_searches_its_own_space() -> None:
    spec = TrainingSpec(family="logistic", search_space={"C": (0.5, 2.0)})
    trained = train_with(spec, SCHEMA, rows(), TrainingConfig(family="random_forest"))
    assert trained.params["C"] in (0.5, 2.0)
    assert type(trained.pipeline.named_steps["model"]).__name__ == "LogisticRegression"


def test_a_family_not_in_the_catalogue_is_refused_naming_the_catalogue() -> None:
    with pytest.raises(TrainingError, match=r"family 'svm' is not in the catalogue \(no .* known:"):
        resolve(TrainingSpec(family="svm"), SCHEMA, "logistic")


def test_a_search_space_key_the_estimator_lacks_is_refused_naming_it() -> None:
    spec = TrainingSpec(family="logistic", search_space={"depth": (1, 2)})
    with pytest.raises(TrainingError, match=r"\['depth'\] are not parameters of family 'logistic'"):
        resolve(spec, SCHEMA, "logistic")


def test_a_search_space_value_the_estimator_refuses_fails_naming_the_spec() -> None:
    spec = TrainingSpec(family="logistic", search_space={"C": ("lots",)})
    with pytest.raises(TrainingError, match=r"family 'logistic' with search_space .* could not"):
        train_with(spec, SCHEMA, rows(), TrainingConfig())


def test_an_entry_point_trains_the_users_estimator_and_records_it() -> None:
    spec = entry("credit:make_estimator")
    recipe = resolve(spec, SCHEMA, "logistic")
    assert isinstance(recipe, EntryPointRecipe)
    trained = train_with(spec, SCHEMA, rows(), TrainingConfig())
    assert trained.params == {
        "entry_point": "driftloop_example_models.credit:make_estimator",
        "estimator": "sklearn.pipeline.Pipeline",
    }
    assert trained.classes == ("no", "yes")
    assert trained.metrics.accuracy > 0.6
    # It serves from what every model gets: the raw feature matrix in schema order.
    x = feature_matrix(SCHEMA, [r.features for r in rows(5)])
    assert trained.pipeline.predict_proba(x).shape == (5, 2)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("nowhere.models:make", r"cannot import 'nowhere.models' .*install the package"),
        ("driftloop_example_models.credit:absent", r"has no callable 'absent'"),
        ("driftloop_example_models.broken:raises", r"raised RuntimeError: no estimator today"),
        ("driftloop_example_models.broken:not_an_estimator", r"returned builtins.str, not a"),
        ("driftloop_example_models.broken:cannot_fit", r"fit failed: ValueError"),
        ("driftloop_example_models.broken:no_probabilities", r"it has no predict_proba"),
    ],
)
def test_an_entry_point_that_goes_wrong_fails_the_run_naming_it(spec: str, reason: str) -> None:
    with pytest.raises(TrainingError, match=reason) as failure:
        train_with(TrainingSpec(entry_point=spec), SCHEMA, rows(), TrainingConfig())
    assert f"entry point {spec!r}" in str(failure.value)


def house_rows(n: int = 300) -> list[LabelledRow]:
    drawn = HouseScenario(3).draw(n, "before")
    return [
        LabelledRow(f, str(y), T0 + timedelta(minutes=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def test_a_family_spec_of_a_regression_dataset_searches_the_familys_regressor() -> None:
    spec = TrainingSpec(family="random_forest", search_space={"max_depth": (3, 6)})
    trained = train_with(
        spec, HouseScenario.schema, house_rows(), TrainingConfig(family="logistic")
    )
    assert type(trained.pipeline[-1]).__name__ == "RandomForestRegressor"
    assert trained.params["max_depth"] in (3, 6)
    assert trained.classes == () and trained.metrics.mae is not None
