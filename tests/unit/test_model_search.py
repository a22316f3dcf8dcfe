"""Family `auto`: which candidates a budget buys, what the search records, and that the same
rows and seed give the same model bytes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from driftloop_contracts import DatasetSchema, TrainingSpec
from driftloop_contracts.datasets import LabelledRow
from driftloop_ml import ModelArtifact, dump_artifact, load_artifact
from driftloop_sdk.scenario import CreditScenario, HouseScenario
from driftloop_trainer import search
from driftloop_trainer.recipes import AutoRecipe, resolve, train_with
from driftloop_trainer.training import TrainedModel, TrainingConfig, TrainingError, train

SCHEMA: DatasetSchema = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)
AUTO = TrainingConfig(family="auto", search_budget_s=0.6)
YES = SCHEMA.target.classes[-1]
USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"


def rows(n: int = 300, seed: int = 3) -> list[LabelledRow]:
    drawn = CreditScenario(seed).draw(n, "before")
    return [
        LabelledRow(f, y, T0 + timedelta(minutes=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def artifact_bytes(model: TrainedModel) -> bytes:
    return dump_artifact(ModelArtifact(model.pipeline, model.schema, model.classes, {}))


# ------------------------------------------------------------------------------ the plan


def test_few_rows_and_a_budget_of_seconds_try_every_candidate() -> None:
    plan = search.plan(SCHEMA, rows=800, folds=3, budget_s=8.0)
    assert plan.candidates == search.CLASSIFICATION
    assert not plan.skipped and plan.estimated_s <= 8.0


def test_more_rows_drop_the_dearest_candidates_but_keep_every_family_the_budget_buys() -> None:
    plan = search.plan(SCHEMA, rows=4000, folds=3, budget_s=8.0)
    assert plan.skipped and plan.estimated_s <= 8.0
    assert {c.family for c in plan.candidates} == {"logistic", "gradient_boosting", "random_forest"}


def test_a_budget_too_small_for_anything_still_tries_the_first_candidate() -> None:
    plan = search.plan(SCHEMA, rows=50_000, folds=3, budget_s=0.001)
    assert plan.candidates == search.CLASSIFICATION[:1]


def test_the_plan_depends_on_rows_and_budget_only_never_on_the_clock() -> None:
    assert search.plan(SCHEMA, 3000, 3, 4.0) == search.plan(SCHEMA, 3000, 3, 4.0)


def test_a_regression_target_searches_the_regressors() -> None:
    plan = search.plan(HouseScenario.schema, rows=500, folds=3, budget_s=8.0)
    first = plan.candidates[0]
    assert first.describe() == {"family": "logistic", "alpha": 1.0}
    assert type(first.estimator(regression=True, seed=1)).__name__ == "Ridge"


# ------------------------------------------------------------------------------ the search


@pytest.fixture(scope="module")
def searched() -> TrainedModel:
    return train(SCHEMA, rows(200), AUTO)


def test_auto_records_every_candidates_score_and_the_budget(searched: TrainedModel) -> None:
    record = searched.params["search"]
    assert record["budget_s"] == 0.6 and record["scoring"] == "accuracy"
    scores = [c["score"] for c in record["candidates"]]
    assert len(scores) >= 3 and all(0 <= s <= 1 for s in scores)
    assert searched.params["cv_score"] == max(scores)
    chosen = next(c for c in record["candidates"] if c["score"] == max(scores))
    assert searched.params["family"] == chosen["family"]


def test_the_same_rows_and_seed_give_the_same_model_bytes_and_hash(
    searched: TrainedModel,
) -> None:
    again = train(SCHEMA, rows(200), AUTO)
    first, second = artifact_bytes(searched), artifact_bytes(again)
    assert first == second
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert load_artifact(first).pipeline.predict is not None


def test_a_stored_model_loads_with_the_hyper_parameters_it_was_fitted_with(
    searched: TrainedModel,
) -> None:
    """The ids renumbered for stable bytes are the zip's members, never a number such as
    "0.3" (a ColumnTransformer's sparse_threshold had come back as 15.3, C=0.1 as 15.1)."""
    loaded = load_artifact(artifact_bytes(searched)).pipeline

    def plain(model: object) -> dict[str, str]:  # repr: NaN equals NaN
        params = model.get_params(deep=True)  # type: ignore[attr-defined]
        return {k: repr(v) for k, v in params.items() if isinstance(v, int | float | str | None)}

    assert plain(loaded) == plain(searched.pipeline)


def test_auto_is_a_family_a_dataset_spec_may_name_but_not_with_a_search_space() -> None:
    assert isinstance(resolve(TrainingSpec(family="auto"), SCHEMA, "logistic", 2.0), AutoRecipe)
    with pytest.raises(TrainingError, match="drop `search_space`"):
        resolve(TrainingSpec(family="auto", search_space={"C": (1.0,)}), SCHEMA, "logistic")


def test_auto_trains_a_regression_target_on_mean_absolute_error() -> None:
    drawn = HouseScenario(2).draw(200, "before")
    house = [
        LabelledRow(f, y, T0 + timedelta(minutes=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]
    model = train(HouseScenario.schema, house, TrainingConfig(family="auto", search_budget_s=0.3))
    assert model.params["search"]["scoring"] == "neg_mean_absolute_error"
    assert model.metrics.mae is not None


# ------------------------------------------------------------------------------ weights


ONE_POINT = {  # one candidate each, two folds: fast, and still the family's own fit
    "logistic": {"C": (1.0,)},
    "gradient_boosting": {"max_iter": (20,)},
    "random_forest": {"n_estimators": (20,)},
}


@pytest.mark.parametrize("family", [*ONE_POINT, "auto"])
def test_every_family_takes_sample_weights_into_its_fit(family: str) -> None:
    data = rows(150)
    config = TrainingConfig(family="auto", search_budget_s=0.2, cv_folds=2)
    spec = TrainingSpec(family=family, search_space=ONE_POINT.get(family))
    weight = np.array([50.0 if r.label == YES else 1.0 for r in data])
    plain = train_with(spec, SCHEMA, data, config)
    leaning = train_with(spec, SCHEMA, data, config, weight)
    share = lambda m: float(np.mean(m.pipeline.predict(_x(data)) == YES))  # noqa: E731
    assert share(leaning) > share(plain)


def test_uniform_weights_train_the_same_model_as_none() -> None:
    data = rows(150)
    config = TrainingConfig(family="auto", search_budget_s=0.2, cv_folds=2)
    weighted = train(SCHEMA, data, config, sample_weight=np.ones(len(data)))
    assert weighted.metrics == train(SCHEMA, data, config).metrics


def test_weights_must_match_the_rows() -> None:
    with pytest.raises(TrainingError, match="3 sample weights for 200 rows"):
        train(SCHEMA, rows(200), AUTO, sample_weight=np.ones(3))


def test_an_entry_point_gets_the_weights_only_if_its_fit_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(USER_MODELS))
    data, weight = rows(200), np.linspace(1, 2, 200)
    spec = TrainingSpec(entry_point="driftloop_example_models.weighted:make_estimator")
    takes = train_with(spec, SCHEMA, data, AUTO, weight)
    assert takes.params["weighted"] is True and takes.pipeline.weights_seen_ is not None
    plain = TrainingSpec(entry_point="driftloop_example_models.credit:make_estimator")
    assert train_with(plain, SCHEMA, data, AUTO, weight).params["weighted"] is False


def _x(data: list[LabelledRow]) -> np.ndarray:
    from driftloop_ml import feature_matrix

    return feature_matrix(SCHEMA, [r.features for r in data])
