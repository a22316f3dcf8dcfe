"""Importance weights toward the new rows, and the champion measured before a retrain.

Tiny real models on the credit scenario: "before" rows are the old distribution, "after" rows
have lower incomes, higher utilisation and another concept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from driftloop_contracts.datasets import LabelledRow
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import TrainingConfig, train
from driftloop_trainer.weights import importance_weights, measure

SCHEMA = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=600)


def stream(old: int, new: int, seed: int = 5) -> list[LabelledRow]:
    """`old` rows before the onset, then `new` rows of the shifted phase after it."""
    scenario = CreditScenario(seed)
    rows: list[LabelledRow] = []
    for phase, n, start in (("before", old, 0), ("after", new, 600)):
        drawn = scenario.draw(n, phase)  # type: ignore[arg-type]
        rows += [
            LabelledRow(f, y, T0 + timedelta(minutes=start + i * 0.1))
            for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
        ]
    return rows


@pytest.fixture(scope="module")
def rows() -> list[LabelledRow]:
    return stream(600, 300)


def test_old_rows_that_look_like_the_new_ones_weigh_more_than_those_that_do_not(
    rows: list[LabelledRow],
) -> None:
    weights = importance_weights(SCHEMA, rows, ONSET, clip=10)

    assert weights is not None
    old = [(r, w) for r, w in zip(rows, weights, strict=True) if r.observed_at < ONSET]
    poor = np.mean([w for r, w in old if float(r.features["income"]) < 40])  # type: ignore[arg-type]
    rich = np.mean([w for r, w in old if float(r.features["income"]) > 70])  # type: ignore[arg-type]
    assert poor > 2 * rich


def test_new_rows_weigh_one_and_old_rows_stay_within_the_clip(rows: list[LabelledRow]) -> None:
    weights = importance_weights(SCHEMA, rows, ONSET, clip=3)

    assert weights is not None
    new = np.array([r.observed_at >= ONSET for r in rows])
    assert np.all(weights[new] == 1.0)
    assert weights[~new].min() >= 1 / 3 and weights[~new].max() <= 3
    assert weights[~new].max() == pytest.approx(3)


def test_with_too_few_rows_on_one_side_there_are_no_weights() -> None:
    assert importance_weights(SCHEMA, stream(600, 10), ONSET, clip=10) is None


def test_weights_decide_which_rows_the_model_learns_from() -> None:
    rows = stream(500, 0)
    flipped = [
        LabelledRow(r.features, "yes" if r.label == "no" else "no", r.observed_at)
        for r in rows[:250]
    ]
    mixed = [*flipped, *rows[250:]]  # the newest 20% (the holdout) are all unflipped
    weights = np.array([1e-3] * 250 + [1.0] * 250)
    config = TrainingConfig(family="logistic", cv_folds=3)

    weighted = train(SCHEMA, mixed, config, sample_weight=weights)
    unweighted = train(SCHEMA, mixed, config)

    assert weighted.metrics.accuracy > unweighted.metrics.accuracy + 0.1


def test_a_champion_of_the_old_concept_measures_worse_than_its_refit_on_the_new_rows() -> None:
    rows = stream(400, 400)
    champion = train(SCHEMA, rows[:400], TrainingConfig(family="logistic")).pipeline

    evidence = measure(SCHEMA, champion, rows, ONSET, folds=3, seed=1)

    assert evidence is not None
    assert evidence.rows == 400 and evidence.folds == 3
    assert evidence.refit_accuracy > evidence.champion_accuracy + 0.05


def test_a_champion_of_the_same_concept_measures_as_well_as_its_refit() -> None:
    rows = stream(800, 0)
    moved = [
        LabelledRow(r.features, r.label, r.observed_at + timedelta(minutes=600)) for r in rows[600:]
    ]
    champion = train(SCHEMA, rows[:400], TrainingConfig(family="logistic")).pipeline

    evidence = measure(SCHEMA, champion, [*rows[:400], *moved], ONSET, folds=3, seed=1)

    assert evidence is not None
    assert evidence.refit_accuracy - evidence.champion_accuracy < 0.02
