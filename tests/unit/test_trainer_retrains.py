"""Retrains that pay: the rows a drift retrain trains on, and when the trainer does not train.

Stories told through `World` (tests/support/trainer_world.py), which applies the policy's
effects as the adapter's commit would.
"""

from __future__ import annotations

import uuid

from driftloop_contracts import BlobRef, ModelPromoted, TrainingSkipped
from driftloop_trainer import retrains
from driftloop_trainer.effects import Train
from driftloop_trainer.retrains import Evidence
from driftloop_trainer.state import Rules

from tests.support.trainer_world import BLOB, World, at, data, drift, promoted, rejected

RULES = Rules(min_initial_rows=500, min_post_drift_rows=200, followup_retrains=2)


def serving_world(rules: Rules = RULES) -> World:
    """v1 trained by this trainer on 500 rows at minute 0, and serving."""
    world = World(rules)
    world.handle(data(500, minute=0))
    world.handle(promoted(1))
    return world


def first_retrain(world: World, kind: str, post_rows: int = 200) -> Train:
    world.handle(drift(minute=60, kind=kind))
    delivery = world.receive(data(post_rows, minute=61))
    assert delivery.train is not None
    return delivery.train


def skip_it(job: Train) -> TrainingSkipped:
    """What the executor returns when its measurement says the run cannot pay."""
    assert job.pending is not None
    return retrains.skipped_event(
        job.cause, job.key, job.pending.retrain, "champion_holds", "holds", 200
    )


def promoted_upload(version: int) -> ModelPromoted:
    other = BlobRef(key="x/upload", sha256="f" * 64, size=1)
    return promoted(version).model_copy(update={"artifact": other})


# ------------------------------------------------------------------------ which rows


def test_a_concept_drift_retrains_on_post_onset_rows_only_unweighted() -> None:
    run = first_retrain(serving_world(), "performance")

    assert run.since == at(60)
    assert run.weight_from is None
    assert run.max_rows is None


def test_a_concept_drift_with_too_few_post_onset_rows_fills_in_the_newest_older_rows() -> None:
    run = first_retrain(
        serving_world(Rules(min_post_drift_rows=200, concept_min_rows=1000)), "performance"
    )

    assert run.since is None
    assert run.max_rows == 1000


def test_a_covariate_shift_retrains_on_old_and_new_rows_weighted_from_the_onset() -> None:
    run = first_retrain(serving_world(), "data")

    assert run.since is None
    assert run.weight_from == at(60)
    assert run.weight_clip == RULES.weight_clip


def test_without_weights_a_covariate_shift_retrains_on_post_onset_rows_only() -> None:
    run = first_retrain(serving_world(Rules(min_post_drift_rows=200, weight_clip=0)), "prediction")

    assert run.since == at(60)
    assert run.weight_from is None


# ------------------------------------------------------------------ retrains that cannot pay


def test_a_retrain_first_measures_the_champion_the_trainer_trained() -> None:
    run = first_retrain(serving_world(), "data")

    assert run.champion is not None
    assert run.champion.version == 1 and run.champion.holdout_accuracy == 0.9
    assert run.onset == at(60)
    assert run.min_gain == RULES.min_gain


def test_a_champion_the_trainer_did_not_train_is_never_loaded_to_measure_it() -> None:
    world = World(RULES)
    world.handle(data(500, minute=0))
    world.handle(promoted_upload(1))

    run = first_retrain(world, "data")

    assert run.champion is None


def test_measuring_can_be_turned_off() -> None:
    run = first_retrain(serving_world(Rules(min_post_drift_rows=200, min_gain=None)), "data")

    assert run.champion is None


def test_the_first_step_of_a_measured_retrain_refits_the_champion_and_the_follow_ups_search() -> (
    None
):
    world = serving_world()
    world.handle(drift(minute=60, kind="performance"))
    delivery = world.receive(data(200, minute=61))
    world.commit(delivery)  # the first run completes
    first = delivery.train
    followup = world.receive(data(400, minute=62)).train  # the post-onset rows doubled

    assert first is not None and followup is not None
    assert first.refit_champion
    assert not followup.refit_champion
    assert followup.champion is not None, "a follow-up still measures"


def test_the_first_step_searches_when_refitting_first_is_off_or_the_champion_unmeasured() -> None:
    off = first_retrain(serving_world(Rules(min_post_drift_rows=200, refit_first=False)), "data")
    unmeasured = first_retrain(serving_world(Rules(min_post_drift_rows=200, min_gain=None)), "data")

    assert not off.refit_champion
    assert not unmeasured.refit_champion


def evidence(champion: float, refit: float, wins: int, losses: int) -> Evidence:
    return Evidence(1500, champion, refit, folds=3, wins=wins, losses=losses)


def test_a_refit_that_beats_the_champion_by_more_than_min_gain_significantly_pays() -> None:
    assert retrains.retrain_pays(evidence(0.70, 0.80, wins=200, losses=50), 0.005) is None


def test_a_refit_no_better_than_the_champion_does_not_pay_and_the_reason_has_the_numbers() -> None:
    reason = retrains.retrain_pays(evidence(0.790, 0.792, wins=40, losses=37), min_gain=0.005)

    assert reason == (
        "the champion scores 0.790 on the 1500 post-onset labelled rows and its model refitted "
        "on them 0.792 (3-fold CV): a gain of +0.002 (refit right where the champion was wrong "
        "on 40 rows, the reverse on 37: z = 0.34), not more than 0.005 with z above 1.645, so a "
        "retrain is not expected to beat it"
    )


def test_a_gain_larger_than_min_gain_but_within_chance_does_not_pay() -> None:
    assert retrains.retrain_pays(evidence(0.853, 0.873, wins=20, losses=14), 0.005) is not None


def test_a_skipped_retrain_is_announced_and_ends_its_chain_without_marking_the_model() -> None:
    world = serving_world()
    world.handle(drift(minute=60, kind="data"))

    world.handle(data(200, minute=61), outcome=skip_it)

    (skipped,) = [e for e in world.published if isinstance(e, TrainingSkipped)]
    assert skipped.reason == "champion_holds" and skipped.shift == "data:income"
    assert world.pending == {}
    assert world.retrained == set()


def test_after_a_skipped_covariate_retrain_a_concept_drift_of_the_model_still_retrains() -> None:
    world = serving_world()
    world.handle(drift(minute=60, kind="data"))
    world.handle(data(200, minute=61), outcome=skip_it)

    world.handle(drift(minute=70, kind="performance"))
    (run,) = [e for e in world.receive(data(200, minute=71)).effects if isinstance(e, Train)]

    assert run.since == at(70)


# --------------------------------------------------------------- the gate rejected it twice


def chain_rejected_twice() -> World:
    """A covariate shift whose first two retrains (200 and 400 rows) the gate rejected."""
    world = serving_world()
    world.handle(drift(minute=60, kind="data"))
    for rows, minute in ((200, 61), (200, 62)):
        world.handle(data(rows, minute=minute))
        run = world.runs("drift")[-1]
        world.handle(rejected(run_id=run.run_id, trigger="drift"))
    return world


def test_the_gate_rejections_of_a_retrain_are_counted_on_it() -> None:
    world = chain_rejected_twice()

    (pending,) = world.pending_retrains()
    assert pending.rejected == 2
    assert pending.awaiting == ()


def test_a_third_retrain_of_a_shift_the_gate_rejected_twice_is_skipped_and_says_so() -> None:
    world = chain_rejected_twice()

    effects = world.handle(data(400, minute=63))

    assert [e for e in effects if isinstance(e, Train)] == []
    (skipped,) = [e for e in world.published if isinstance(e, TrainingSkipped)]
    assert skipped.reason == "rejected_twice"
    assert skipped.rejections == 2
    assert skipped.message.startswith("the gate rejected 2 retrains of this shift (data:income)")
    assert world.pending == {}


def test_a_promotion_resets_the_count() -> None:
    world = chain_rejected_twice()

    world.handle(promoted(2))

    (pending,) = world.pending_retrains()
    assert pending.rejected == 0
    assert len(world.runs("drift")) == 2
    world.handle(data(400, minute=63))
    assert len(world.runs("drift")) == 3


def test_a_rejection_of_a_run_no_retrain_awaits_counts_nothing() -> None:
    world = serving_world()
    world.handle(drift(minute=60, kind="data"))
    world.handle(data(200, minute=61))

    world.handle(rejected(run_id=uuid.uuid4(), trigger="drift"))

    (pending,) = world.pending_retrains()
    assert pending.rejected == 0


def test_the_blob_of_every_trained_artifact_is_recorded_as_the_trainer_s_own() -> None:
    world = serving_world()

    assert world.artifacts == {BLOB.sha256}


def test_a_champion_two_standard_errors_under_its_holdout_means_the_concept_moved_too() -> None:
    fell = Evidence(rows=400, champion_accuracy=0.70, refit_accuracy=0.85, folds=3)
    held = Evidence(rows=400, champion_accuracy=0.78, refit_accuracy=0.79, folds=3)

    assert retrains.concept_moved(fell, holdout_accuracy=0.80)  # 2 se = 0.04
    assert not retrains.concept_moved(held, holdout_accuracy=0.80)
