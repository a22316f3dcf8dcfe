"""The trainer's policy, on state held in memory: when it trains, on which rows, what it keeps.

Each test tells a story through `World`, which applies the policy's effects as the adapter's
commit would (tests/support/trainer_world.py).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence

from driftloop_contracts import TrainingCompleted, TrainingFailed
from driftloop_trainer.effects import ReleaseClaim, Skip, Train
from driftloop_trainer.repository import Recheck
from driftloop_trainer.state import INITIAL, Rules

from tests.support.trainer_world import (
    World,
    at,
    data,
    drift,
    promoted,
    rejected,
    request,
)

RULES = Rules(
    min_initial_rows=500,
    initial_backoff=1.5,
    min_post_drift_rows=200,
    followup_retrains=2,
    max_retrain_failures=3,
)


def serving_world() -> World:
    """A dataset whose first model (v1) was trained on 500 rows at minute 0 and serves."""
    world = World(RULES)
    world.handle(data(500, minute=0))
    world.handle(promoted(1))
    return world


def trains(effects: Sequence[object]) -> list[Train]:
    return [e for e in effects if isinstance(e, Train)]


# ------------------------------------------------------------------------ the first model


def test_the_first_model_trains_once_the_dataset_has_min_initial_rows() -> None:
    world = World(RULES)

    assert trains(world.handle(data(300))) == []
    (run,) = trains(world.receive(data(200)).effects)

    assert run.trigger == "initial"
    assert run.claim == INITIAL
    assert run.since is None
    assert run.rows == 500


def test_more_data_does_not_train_again_while_the_first_model_awaits_its_verdict() -> None:
    world = World(RULES)
    world.handle(data(500))

    assert trains(world.handle(data(5000))) == []
    assert len(world.runs("initial")) == 1
    assert world.initial is not None and world.initial.status == "awaiting verdict"


def test_a_rejected_first_model_is_retried_once_the_rows_grew_by_the_backoff() -> None:
    world = World(RULES)
    world.handle(data(600))
    (first,) = world.runs("initial")

    world.handle(rejected(run_id=first.run_id, trigger="initial"))

    assert INITIAL not in world.claims
    assert trains(world.handle(data(299))) == []  # 899 < 600 x 1.5
    (retry,) = trains(world.receive(data(1)).effects)
    assert retry.trigger == "initial"
    assert retry.rows == 900


def test_the_reason_a_first_model_did_not_serve_is_kept() -> None:
    world = World(RULES)
    world.handle(data(600))

    world.handle(rejected(trigger="initial"))

    assert world.initial is not None
    assert world.initial.status == "rejected"
    assert world.initial.reason == (
        "rejected by the registry: holdout accuracy 0.55 under the floor 0.6"
    )
    assert world.initial.next_min_rows == 900
    assert world.initial.attempts == 1


def test_a_first_model_that_fails_to_train_waits_for_more_rows_not_for_the_next_version() -> None:
    world = World(RULES)
    world.handle(data(500), outcome="failed")

    assert INITIAL not in world.claims
    assert world.initial is not None and world.initial.status == "failed"
    assert world.initial.reason == "training rows hold one class only"
    for _ in range(24):  # 24 more versions of 10 rows: no run, not one per version
        assert trains(world.handle(data(10))) == []
    (retry,) = trains(world.receive(data(10)).effects)
    assert retry.rows == 750


def test_each_failed_first_model_raises_the_bar_again() -> None:
    world = World(RULES)
    world.handle(data(500), outcome="failed")
    world.handle(data(250), outcome="failed")

    assert world.initial is not None
    assert world.initial.attempts == 2
    assert world.initial.next_min_rows == 1125  # 750 x 1.5
    assert len(world.runs("initial")) == 2


def test_a_rejection_of_another_run_or_trigger_frees_nothing() -> None:
    world = World(RULES)
    world.handle(data(600))
    (first,) = world.runs("initial")

    world.handle(rejected(trigger="drift"))
    world.handle(rejected(run_id=first.event_id, trigger="initial"))  # not its run id

    assert world.claims[INITIAL] == str(first.causation_id)
    assert world.initial is not None and world.initial.status == "awaiting verdict"


def test_a_rejection_from_a_registry_that_sends_no_run_id_frees_the_waiting_first_model() -> None:
    world = World(RULES)
    world.handle(data(600))

    world.handle(rejected())

    assert INITIAL not in world.claims
    assert world.initial is not None and world.initial.status == "rejected"


def test_a_rejection_while_a_model_serves_changes_nothing() -> None:
    world = serving_world()

    effects = world.handle(rejected(trigger="initial"))

    assert effects == [Skip("model v1 serves; a rejected candidate changes nothing")]


def test_once_a_model_serves_more_data_never_trains_a_first_model() -> None:
    world = serving_world()
    world.claims.clear()  # even without its claim (trimmed, or from an older trainer)

    assert trains(world.handle(data(100_000))) == []


# ------------------------------------------------------------------------ drift retrains


def test_a_drift_of_a_kind_not_in_retrain_on_is_not_retrained_on() -> None:
    world = serving_world()
    world.rules = Rules(retrain_on=("performance",))

    effects = world.handle(drift(kind="data"))

    assert effects == [Skip("data drift is not retrained on (TRAINER_RETRAIN_ON)")]
    assert world.pending == {}


def test_a_drift_waits_for_post_drift_rows_then_retrains_on_them_only() -> None:
    world = serving_world()
    event = drift(minute=60, kind="performance")
    world.handle(event)
    world.handle(data(150, minute=30))  # before the onset: does not count

    assert trains(world.handle(data(150, minute=61))) == []
    (run,) = trains(world.receive(data(50, minute=62)).effects)

    assert run.trigger == "drift"
    assert run.since == at(60)
    assert run.rows == 200
    assert run.cause == event  # the drift's id follows the retrain


def test_follow_ups_train_as_the_post_drift_rows_double() -> None:
    world = serving_world()
    world.handle(drift(minute=60))
    world.handle(data(200, minute=61))  # first retrain on 200 rows
    (follow_up,) = world.pending_retrains()
    assert (follow_up.followup, follow_up.min_rows) == (1, 400)

    assert trains(world.handle(data(150, minute=62))) == []
    world.handle(data(50, minute=63))  # 400 rows: second run
    world.handle(data(400, minute=64))  # 800 rows: third and last

    runs = world.runs("drift")
    assert [r.training_rows for r in runs if isinstance(r, TrainingCompleted)] == [200, 400, 800]
    assert world.pending == {}


def test_a_drift_of_a_model_already_retrained_for_is_ignored() -> None:
    world = serving_world()
    world.handle(drift(minute=60))
    world.handle(data(200, minute=61))

    effects = world.handle(drift(minute=70, kind="prediction"))

    assert effects == [Skip("a drift of model v1 already led to a retrain")]


def test_a_second_drift_of_the_same_model_waits_behind_the_first_retrain() -> None:
    world = serving_world()
    first = drift(minute=60)
    world.handle(first)

    effects = world.handle(drift(minute=70, kind="prediction"))

    assert effects == [Skip(f"a retrain is already pending for drift {first.event_id}")]
    assert list(world.pending) == [str(first.event_id)]


def test_a_new_drift_outranks_follow_ups_of_an_older_one() -> None:
    world = serving_world()
    world.handle(drift(minute=60))
    world.handle(data(200, minute=61))  # v1 retrained; a follow-up is pending
    world.handle(promoted(2))
    newer = drift(version=2, minute=90)

    world.handle(newer)

    (pending,) = world.pending_retrains()
    assert pending.drift == newer
    assert pending.followup == 0


def test_a_drift_of_a_newer_model_outranks_a_first_retrain_still_waiting() -> None:
    world = serving_world()
    world.handle(drift(minute=60))
    world.handle(promoted(2))  # by hand, before the retrain
    newer = drift(version=2, minute=90)

    world.handle(newer)

    assert [p.drift for p in world.pending_retrains()] == [newer]


def test_a_chain_finishing_after_a_newer_drift_arrived_leaves_that_drift_pending() -> None:
    """Issue 9: the last retrain of the v1 chain must not delete the pending retrain of a
    drift of v2 that arrived while it trained."""
    world = World(Rules(min_initial_rows=500, min_post_drift_rows=200, followup_retrains=1))
    world.handle(data(500, minute=0))
    world.handle(promoted(1))
    world.handle(drift(version=1, minute=60))
    world.handle(data(200, minute=61))  # first retrain of v1
    world.handle(promoted(2))
    last_step = world.receive(data(200, minute=62))  # the v1 follow-up starts training...
    assert trains(last_step.effects)
    newer = drift(version=2, minute=90)
    world.handle(newer)  # ...a drift of v2 arrives meanwhile...

    world.commit(last_step)  # ...and the v1 chain finishes.

    assert [p.drift for p in world.pending_retrains()] == [newer]
    (run,) = trains(world.receive(data(200, minute=91)).effects)
    assert run.cause == newer


def test_a_failed_retrain_is_retried_on_more_rows_at_most_max_failures_times() -> None:
    world = serving_world()
    world.handle(drift(minute=60))

    world.handle(data(200, minute=61), outcome="failed")
    (retry,) = world.pending_retrains()
    assert (retry.failures, retry.min_rows) == (1, 300)  # 200 + half of min_post_drift_rows
    assert trains(world.handle(data(99, minute=62))) == []
    world.handle(data(1, minute=62), outcome="failed")  # second failure, 300 rows
    world.handle(data(100, minute=63), outcome="failed")  # third: given up

    assert len([r for r in world.runs("drift") if isinstance(r, TrainingFailed)]) == 3
    assert world.pending == {}
    assert world.skipped[-1].startswith("gave up on drift")
    assert 1 not in world.retrained  # a later drift of v1 may still retrain
    assert trains(world.handle(data(1000, minute=64))) == []


def test_a_failed_retrain_releases_its_step_so_another_event_can_take_it() -> None:
    world = serving_world()
    event = drift(minute=60)
    world.handle(event)

    effects = world.handle(data(200, minute=61), outcome="failed")

    assert ReleaseClaim("demo", f"drift-{event.event_id}-0") in effects


def test_a_drift_whose_rows_are_already_there_trains_at_once() -> None:
    world = serving_world()
    world.handle(data(300, minute=61))
    event = drift(minute=60)

    (run,) = trains(world.receive(event).effects)

    assert run.cause == event and run.rows == 300


def test_a_step_another_event_is_training_is_not_trained_again() -> None:
    world = serving_world()
    world.handle(drift(minute=60))
    running = world.receive(data(200, minute=61))

    again = world.receive(data(200, minute=62))  # another replica, same step due

    assert trains(running.effects)
    assert trains(again.effects) == []
    skipped = [e.reason for e in again.effects if isinstance(e, Skip)]
    assert skipped[-1].endswith("is being trained by another event")


# ----------------------------------------------------------------------- requests, rechecks


def test_a_request_for_a_dataset_without_data_fails_with_the_reason() -> None:
    world = World(RULES)

    world.handle(request())

    (failure,) = world.published
    assert isinstance(failure, TrainingFailed)
    assert failure.reason == "no data ingested for dataset 'demo' yet"


def test_a_request_trains_on_rows_since_its_since() -> None:
    world = serving_world()

    (run,) = trains(world.receive(request(since=at(30))).effects)

    assert (run.trigger, run.since, run.claim) == ("requested", at(30), None)


def test_two_versions_decided_at_once_ask_for_a_recheck_that_trains_what_both_complete() -> None:
    world = World(RULES)
    world.handle(data(300))
    one, other = world.receive(data(100)), world.receive(data(100))  # two replicas
    world.commit(one)
    world.commit(other)
    assert world.runs() == []
    assert world.rechecks == 1

    (run,) = trains(world.receive(Recheck(producer="trainer", dataset="demo")).effects)

    assert run.trigger == "initial" and run.rows == 500


def test_a_train_effect_is_plain_data_a_worker_process_could_receive() -> None:
    world = serving_world()
    world.handle(drift(minute=60))
    (job,) = trains(world.receive(data(200, minute=61)).effects)

    assert pickle.loads(pickle.dumps(job)) == job


def test_a_first_model_rejected_on_more_rows_than_max_rows_still_waits_for_more_data() -> None:
    world = World(Rules(min_initial_rows=500, max_rows=1000))
    world.handle(data(5000))

    effects = world.handle(rejected(trigger="initial"))

    assert trains(effects) == []  # trained on the newest 1,000 rows; 5,000 are not new data
    assert world.initial is not None and world.initial.next_min_rows == 7500


def test_follow_ups_count_every_post_drift_row_not_only_the_max_rows_trained_on() -> None:
    world = World(Rules(min_initial_rows=500, min_post_drift_rows=200, max_rows=1000))
    world.handle(data(500, minute=0))
    world.handle(promoted(1))
    world.handle(drift(minute=60))

    world.handle(data(3000, minute=61))

    (follow_up,) = world.pending_retrains()
    assert follow_up.min_rows == 6000
    assert trains(world.handle(data(10, minute=62))) == []
