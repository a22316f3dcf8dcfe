"""The first retrain of a drift fits the champion's own pipeline on the new rows: one fit, the
same family and hyper-parameters, judged on the newest rows like any run."""

from __future__ import annotations

import pickle

from driftloop_trainer.refit import refit
from driftloop_trainer.training import TrainingConfig, train

from tests.support.data import SCHEMA, labelled_rows

CONFIG = TrainingConfig(family="logistic")


def champion() -> object:
    return train(SCHEMA, labelled_rows(400, seed=1), CONFIG).pipeline


def test_the_refit_has_the_champion_s_family_and_hyper_parameters_and_is_fitted_anew() -> None:
    v1 = champion()
    before = pickle.dumps(v1)

    trained = refit(SCHEMA, v1, 1, labelled_rows(300, seed=2), CONFIG)

    assert trained.params["family"] == "logistic"
    assert trained.params["refit_of"] == 1
    assert trained.params["C"] == v1.named_steps["model"].C  # type: ignore[attr-defined]
    assert trained.training_rows + len(trained.holdout) <= 300 and trained.holdout
    assert trained.pipeline is not v1
    assert pickle.dumps(v1) == before, "the champion itself is not refitted"


def test_the_same_rows_give_the_same_model() -> None:
    v1, rows = champion(), labelled_rows(300, seed=2)

    first = refit(SCHEMA, v1, 1, rows, CONFIG)
    again = refit(SCHEMA, v1, 1, rows, CONFIG)

    assert pickle.dumps(first.pipeline) == pickle.dumps(again.pipeline)
