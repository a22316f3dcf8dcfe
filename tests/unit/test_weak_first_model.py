"""A first model too weak to serve is retried harder on the same rows (another family, a
wider search), then on more rows; the reason and the next attempt are on the dataset."""

from __future__ import annotations

from collections.abc import Sequence

from driftloop_trainer.api import describe
from driftloop_trainer.effects import Train
from driftloop_trainer.state import Rules

from tests.support.trainer_world import World, data, rejected

WIDENING = Rules(min_initial_rows=500, initial_backoff=1.5, retry_budget_factor=4.0)


def trains(effects: Sequence[object]) -> list[Train]:
    return [e for e in effects if isinstance(e, Train)]


def test_a_weak_single_family_model_is_retried_at_once_on_the_same_rows_with_auto() -> None:
    world = World(Rules(min_initial_rows=500, model_family="logistic", retry_budget_factor=4.0))
    delivery = world.receive(data(600))
    (first,) = trains(delivery.effects)
    world.commit(delivery)
    assert first.family is None  # the trainer's default family

    delivery = world.receive(rejected(trigger="initial"))
    (retry,) = trains(delivery.effects)
    world.commit(delivery)

    assert retry.family == "auto" and retry.budget_s is None and retry.rows == 600
    assert world.initial is not None and world.initial.family == "auto"
    assert world.initial.status == "awaiting verdict" and world.claims  # still claimed


def test_a_weak_auto_model_is_retried_on_the_same_rows_with_a_wider_search() -> None:
    world = World(WIDENING)
    world.handle(data(600))

    delivery = world.receive(rejected(trigger="initial"))
    (retry,) = trains(delivery.effects)
    world.commit(delivery)

    assert retry.family == "auto" and retry.budget_s == 32.0 and retry.rows == 600
    assert world.initial is not None and world.initial.reason == (
        "rejected by the registry: holdout accuracy 0.55 under the floor 0.6"
    )


def test_once_the_search_was_widened_the_next_attempt_waits_for_more_rows_searching_as_wide() -> (
    None
):
    world = World(WIDENING)
    world.handle(data(600))
    world.handle(rejected(trigger="initial"))  # widened, on the same rows

    assert trains(world.receive(rejected(trigger="initial")).effects) == []
    world.handle(rejected(trigger="initial"))

    assert world.initial is not None and world.initial.next_min_rows == 900
    assert trains(world.handle(data(299))) == []
    (retry,) = trains(world.receive(data(1)).effects)
    assert retry.rows == 900 and retry.family == "auto" and retry.budget_s == 32.0


def test_a_first_model_that_failed_to_train_is_not_widened_it_waits_for_rows() -> None:
    world = World(WIDENING)
    world.handle(data(600), outcome="failed")

    assert world.initial is not None and world.initial.next_min_rows == 900
    assert world.initial.next_budget_s is None


def test_without_a_retry_factor_a_weak_model_waits_for_more_rows_as_before() -> None:
    world = World(Rules(min_initial_rows=500, retry_budget_factor=1.0))
    world.handle(data(600))

    assert trains(world.receive(rejected(trigger="initial")).effects) == []
    world.handle(rejected(trigger="initial"))
    assert world.initial is not None and world.initial.next_min_rows == 900


def test_the_dataset_view_says_why_there_is_no_model_and_what_comes_next() -> None:
    world = World(WIDENING)
    world.handle(data(600))
    world.handle(rejected(trigger="initial"))
    world.handle(rejected(trigger="initial"))

    view = describe(world.snapshot())

    assert view["initial"]["next_family"] == "auto"
    assert view["next_first_model"] == (
        "rejected: rejected by the registry: holdout accuracy 0.55 under the floor 0.6; "
        "next attempt: auto with a search budget of 32 s once the dataset has 900 rows"
    )
