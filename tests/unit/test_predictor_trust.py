"""The predictor acts only on decisions the registry signed for that dataset, each newer than
the last it acted on; anything else is refused (metric, warning) before the store is read,
and the dataset keeps serving what it had."""

from __future__ import annotations

from driftloop_bus.serving import ServingState
from driftloop_core.signing import Signer, generate
from prometheus_client import REGISTRY

from tests.unit.test_predictor_following import candidate, promoted, rollout, version, world


def refused(kind: str, reason: str) -> float:
    labels = {"kind": kind, "reason": reason}
    return REGISTRY.get_sample_value("driftloop_refused_decisions_total", labels) or 0.0


async def test_a_promotion_signed_with_another_key_is_never_loaded() -> None:
    holders, follow, loader = world()
    await follow.on_promoted(promoted(1))
    before = refused("promotion", "bad_signature")
    theirs = Signer.from_base64(generate()[0])

    await follow.on_promoted(theirs.sign(promoted(2)))

    assert version(holders) == 1
    assert loader.asked == [("demo", 1)]  # v2's artifact was never read
    assert refused("promotion", "bad_signature") == before + 1


async def test_an_unsigned_promotion_is_refused_as_unsigned() -> None:
    holders, follow, loader = world()
    before = refused("promotion", "unsigned")

    await follow.on_promoted(promoted(1).model_copy(update={"signature": None}))

    assert holders.datasets() == [] and loader.asked == []
    assert refused("promotion", "unsigned") == before + 1


async def test_an_old_promotion_published_again_is_a_replay() -> None:
    holders, follow, loader = world()
    old, new = promoted(1), promoted(2)
    await follow.on_promoted(old)
    await follow.on_promoted(new)
    before = refused("promotion", "replay")

    await follow.on_promoted(old)  # the same signed event, XADDed again

    assert version(holders) == 2
    assert loader.asked == [("demo", 1), ("demo", 2)]
    assert refused("promotion", "replay") == before + 1


async def test_a_rollback_is_a_new_decision_and_is_served() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))
    await follow.on_promoted(promoted(2))

    await follow.on_promoted(promoted(1))  # a new promotion, numbered after v2's

    assert version(holders) == 1


async def test_a_replay_is_judged_per_dataset() -> None:
    holders, follow, _ = world()
    loans = promoted(4, "loans")
    await follow.on_promoted(promoted(7))

    await follow.on_promoted(loans)  # numbered before demo's v7, but another dataset

    assert (version(holders), version(holders, "loans")) == (7, 4)


async def test_a_serving_state_entry_filed_under_another_dataset_is_refused() -> None:
    holders, follow, loader = world()
    before = refused("promotion", "wrong_dataset")

    await follow.start_from(ServingState(champions={"loans": promoted(3, "demo")}))

    assert holders.datasets() == [] and loader.asked == []
    assert refused("promotion", "wrong_dataset") == before + 1


async def test_a_forged_end_of_rollout_leaves_the_canary_serving() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))
    await follow.on_rollout(rollout(2))
    forged = rollout(2, "ended").model_copy(update={"signature": None})

    await follow.on_rollout(forged)

    assert candidate(holders) == ("canary", 2)


async def test_a_promotion_and_its_rollout_end_count_on_their_own_streams() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))
    await follow.on_rollout(rollout(2))
    promoted_canary, ended = promoted(2), rollout(2, "ended")

    await follow.on_rollout(ended)  # the rollout stream may be read first
    await follow.on_promoted(promoted_canary)

    assert version(holders) == 2 and candidate(holders) is None
