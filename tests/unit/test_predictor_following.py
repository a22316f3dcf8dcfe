"""What the predictor serves follows the registry, for every dataset: the serving state at
start-up, then the streams; models that cannot be loaded are refused and what served goes on
serving; a memory bound unloads the datasets used least recently, which load again on their
next request."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import structlog
from driftloop_bus.serving import ServingState
from driftloop_contracts import Metrics, ModelPromoted, RolloutChanged
from driftloop_core import IntegrityError, NotFound, NotReady
from driftloop_predictor.encoding import RowEncoder
from driftloop_predictor.following import Following
from driftloop_predictor.holders import Holders
from driftloop_predictor.model import LoadedModel
from driftloop_predictor.trust import Trust
from driftloop_sdk.scenario import SCHEMA
from prometheus_client import REGISTRY

from tests.support.events import blob
from tests.support.signing import sealed, verifier

METRICS = Metrics(accuracy=0.8, f1_macro=0.75, rows=300)
MB = 1024 * 1024


def promoted(version: int, dataset: str = "demo", size: int = MB) -> ModelPromoted:
    """As the registry publishes it: numbered after every decision made before, signed."""
    return sealed(
        ModelPromoted(
            producer="registry",
            dataset=dataset,
            model_version=version,
            previous_version=None,
            reason="gate",
            artifact=blob("models", f"{dataset}-v{version}").model_copy(update={"size": size}),
            profile=blob("profiles", f"v{version}"),
            metrics=METRICS,
            dataset_schema=SCHEMA,
        )
    )


def rollout(version: int, stage: str = "canary", dataset: str = "demo") -> RolloutChanged:
    return sealed(
        RolloutChanged(
            producer="registry",
            dataset=dataset,
            stage=stage,
            outcome="started" if stage != "ended" else "aborted",
            model_version=version,
            share=0.3 if stage == "canary" else 0.0,
            artifact=blob("models", f"{dataset}-v{version}").model_copy(update={"size": MB}),
            profile=blob("profiles", f"v{version}"),
            metrics=METRICS,
            dataset_schema=SCHEMA,
        )
    )


class Loader:
    """Loads any version but the broken ones, and remembers what it was asked for."""

    def __init__(self, broken: set[int] | None = None) -> None:
        self.broken = broken or set()
        self.asked: list[tuple[str, int]] = []

    def __call__(self, event: ModelPromoted | RolloutChanged) -> LoadedModel:
        self.asked.append((event.dataset, event.model_version))
        if event.model_version in self.broken:
            raise IntegrityError(f"blob of v{event.model_version} has another sha256")
        return LoadedModel(event, None, SCHEMA, np.asarray(["no", "yes"]), RowEncoder(SCHEMA))


def world(loader: Loader | None = None, **bounds: Any) -> tuple[Holders, Following, Loader]:
    loader = loader or Loader()
    holders = Holders(loader, **bounds)
    return holders, Following(holders, Trust(verifier())), loader


def version(holders: Holders, dataset: str = "demo") -> int | None:
    served = holders.peek(dataset)
    current = served.holder.current if served else None
    return current.version if current else None


def candidate(holders: Holders, dataset: str = "demo") -> tuple[str, int] | None:
    served = holders.peek(dataset)
    rollout = served.holder.rollout if served else None
    return (rollout.stage, rollout.model.version) if rollout else None


def loaded(holders: Holders) -> list[str]:
    return [name for name in holders.datasets() if (s := holders.peek(name)) and s.loaded]


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"driftloop_predictor_{name}", labels) or 0.0


async def test_a_start_serves_the_champion_and_rollout_of_every_dataset() -> None:
    holders, follow, _ = world()
    state = ServingState(
        champions={"demo": promoted(3), "loans": promoted(9, "loans")},
        rollouts={"demo": rollout(4), "loans": rollout(10, "shadow", "loans")},
    )

    await follow.start_from(state)

    assert holders.datasets() == ["demo", "loans"]
    assert (version(holders), version(holders, "loans")) == (3, 9)
    assert candidate(holders) == ("canary", 4)
    assert candidate(holders, "loans") == ("shadow", 10)


async def test_a_start_with_nothing_promoted_serves_nothing() -> None:
    holders, follow, loader = world()

    await follow.start_from(ServingState())

    assert holders.datasets() == [] and loader.asked == []


async def test_a_promotion_of_one_dataset_leaves_the_others_serving() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))
    before = (await holders.holder("demo")).current

    await follow.on_promoted(promoted(5, "loans"))

    assert (await holders.holder("demo")).current is before
    assert version(holders, "loans") == 5


async def test_a_new_champion_replaces_the_old_one_which_is_dropped() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))
    replaced = counted("model_unloads_total", reason="replaced")

    await follow.on_promoted(promoted(2))

    assert version(holders) == 2
    assert counted("model_unloads_total", reason="replaced") == replaced + 1
    assert counted("models_loaded") == 1


async def test_a_model_that_cannot_be_loaded_is_refused_counted_and_logged() -> None:
    holders, follow, _ = world(Loader(broken={2}))
    await follow.on_promoted(promoted(1))
    await follow.on_promoted(promoted(1, "loans"))
    failures = counted("model_load_failures_total")
    refusals = counted("model_refusals_total", reason="load_failed")

    with structlog.testing.capture_logs() as logs:
        await follow.on_promoted(promoted(2))

    assert (version(holders), version(holders, "loans")) == (1, 1)
    assert counted("model_load_failures_total") == failures + 1
    assert counted("model_refusals_total", reason="load_failed") == refusals + 1
    (line,) = [e for e in logs if e["log_level"] == "error"]
    assert (line["dataset"], line["version"]) == ("demo", 2)
    assert "another sha256" in line["error"]
    assert line["exc_info"] is False  # a refusal we understand: one line, no traceback


async def test_a_broken_rollout_candidate_leaves_the_rollout_as_it_was() -> None:
    holders, follow, _ = world(Loader(broken={7}))
    await follow.on_promoted(promoted(3))
    await follow.on_rollout(rollout(4))

    await follow.on_rollout(rollout(7, "shadow"))

    assert candidate(holders) == ("canary", 4)


async def test_a_rollout_that_ended_is_unloaded_without_loading_anything() -> None:
    holders, follow, loader = world()
    await follow.on_promoted(promoted(3))
    await follow.on_rollout(rollout(4))
    ended = counted("model_unloads_total", reason="rollout_ended")

    await follow.on_rollout(rollout(4, "ended"))

    assert candidate(holders) is None
    assert loader.asked == [("demo", 3), ("demo", 4)]
    assert counted("model_unloads_total", reason="rollout_ended") == ended + 1


async def test_the_failpoint_hook_runs_between_loading_and_swapping() -> None:
    holders = Holders(Loader())
    seen: list[Any] = []

    async def before_swap() -> None:
        seen.append(version(holders))

    follow = Following(holders, Trust(verifier()), before_swap)
    await follow.on_promoted(promoted(1))
    await follow.on_promoted(promoted(2))

    assert seen == [None, 1]
    assert version(holders) == 2


# ------------------------------------------------------------------ which dataset answers


async def test_the_default_dataset_answers_when_one_is_set() -> None:
    holders, follow, _ = world(default="loans")
    await follow.on_promoted(promoted(1))
    await follow.on_promoted(promoted(2, "loans"))

    assert (await holders.holder(None)).current.version == 2  # type: ignore[union-attr]


async def test_a_default_that_serves_nothing_is_not_ready_even_if_others_serve() -> None:
    holders, follow, _ = world(default="loans")
    await follow.on_promoted(promoted(1))

    with pytest.raises(NotReady, match="'loans'"):
        await holders.holder(None)


async def test_without_a_default_the_only_dataset_answers() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(4, "loans"))

    assert (await holders.holder(None)).current.version == 4  # type: ignore[union-attr]


async def test_without_a_default_many_datasets_ask_for_the_per_dataset_route() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))
    await follow.on_promoted(promoted(1, "loans"))

    with pytest.raises(NotFound, match=r"/v1/models/\{dataset\}/predict.*demo, loans"):
        await holders.holder(None)


async def test_nothing_promoted_is_not_ready() -> None:
    holders, _, _ = world()

    with pytest.raises(NotReady, match="no model is loaded yet"):
        await holders.holder(None)


async def test_an_unknown_dataset_is_not_found_naming_those_that_serve() -> None:
    holders, follow, _ = world()
    await follow.on_promoted(promoted(1))

    with pytest.raises(NotFound, match="'nope'; serving: demo"):
        await holders.holder("nope")


# ------------------------------------------------------------------------- the memory bound


async def test_past_the_model_bound_the_least_recently_used_dataset_is_unloaded() -> None:
    holders, follow, _ = world(max_models=2)
    await follow.on_promoted(promoted(1, "a"))
    await follow.on_promoted(promoted(1, "b"))
    await holders.holder("a")  # a is used: b is now the least recently used
    evicted = counted("model_unloads_total", reason="bound")

    await follow.on_promoted(promoted(1, "c"))

    assert loaded(holders) == ["a", "c"]
    assert holders.datasets() == ["a", "b", "c"]  # b still serves: it is only unloaded
    assert counted("model_unloads_total", reason="bound") == evicted + 1
    assert counted("models_loaded") == 2


async def test_an_unloaded_dataset_loads_again_on_its_next_request_with_its_rollout() -> None:
    holders, follow, loader = world(max_models=3)
    await follow.on_promoted(promoted(1, "a"))
    await follow.on_rollout(rollout(2, "canary", "a"))
    await follow.on_promoted(promoted(1, "b"))
    await follow.on_promoted(promoted(1, "c"))  # a (two models) makes room
    reloads = counted("model_loads_total", reason="reload")

    holder = await holders.holder("a")

    assert holder.current is not None and holder.current.version == 1
    assert candidate(holders, "a") == ("canary", 2)
    assert counted("model_loads_total", reason="reload") == reloads + 2
    assert loaded(holders) == ["a", "c"]  # b, the least recently used, made room
    assert loader.asked[-2:] == [("a", 1), ("a", 2)]


async def test_requests_arriving_while_a_dataset_loads_again_share_that_one_load() -> None:
    holders, follow, loader = world(max_models=1)
    await follow.on_promoted(promoted(1, "a"))
    await follow.on_promoted(promoted(1, "b"))
    asked = len(loader.asked)

    holders_seen = await asyncio.gather(*(holders.holder("a") for _ in range(5)))

    assert len(loader.asked) == asked + 1
    assert all(h is holders_seen[0] for h in holders_seen)


async def test_a_model_larger_than_the_byte_bound_is_refused_and_what_served_serves_on() -> None:
    holders, follow, loader = world(max_bytes=10 * MB)
    await follow.on_promoted(promoted(1, size=4 * MB))
    refused = counted("model_refusals_total", reason="bound")

    with structlog.testing.capture_logs() as logs:
        await follow.on_promoted(promoted(2, size=11 * MB))

    assert version(holders) == 1
    assert loader.asked == [("demo", 1)]  # never even loaded
    assert counted("model_refusals_total", reason="bound") == refused + 1
    (line,) = [e for e in logs if e["log_level"] == "error"]
    assert "PREDICTOR_MAX_MODEL_MB" in line["error"]


async def test_the_byte_bound_unloads_as_many_datasets_as_it_takes() -> None:
    holders, follow, _ = world(max_bytes=10 * MB)
    for name in ("a", "b", "c"):
        await follow.on_promoted(promoted(1, name, size=3 * MB))

    await follow.on_promoted(promoted(1, "d", size=6 * MB))

    assert loaded(holders) == ["c", "d"]
    assert counted("models_bytes") == 9 * MB


async def test_a_dataset_that_cannot_load_again_answers_not_ready() -> None:
    loader = Loader()
    holders, follow, _ = world(loader, max_models=1)
    await follow.on_promoted(promoted(1, "a"))
    await follow.on_promoted(promoted(2, "b"))
    loader.broken = {1}  # a's artifact is gone meanwhile

    with pytest.raises(NotReady, match="could not be loaded again"):
        await holders.holder("a")
    # Room is made before loading (the bound holds at the peak): b was unloaded, and loads again.
    assert (await holders.holder("b")).current.version == 2  # type: ignore[union-attr]


async def test_a_promoted_rollout_candidate_serves_as_champion_without_loading_it_again() -> None:
    holders, follow, loader = world()
    await follow.on_promoted(promoted(1))
    await follow.on_rollout(rollout(2))
    candidate_model = (await holders.holder("demo")).rollout.model  # type: ignore[union-attr]
    champion_event = promoted(2).model_copy(update={"artifact": rollout(2).artifact})

    await follow.on_promoted(champion_event)
    await follow.on_rollout(rollout(2, "ended"))

    champion = (await holders.holder("demo")).current
    assert champion is not None and champion.version == 2
    assert champion.promoted is champion_event  # it answers as the champion, reason and all
    assert champion.pipeline is candidate_model.pipeline
    assert loader.asked == [("demo", 1), ("demo", 2)]  # v2 loaded once, for the canary
    assert counted("models_loaded") == 1


async def test_datasets_loaded_again_side_by_side_end_within_the_bound_and_all_answer() -> None:
    holders, follow, _ = world(max_models=1)
    for name in ("a", "b", "c"):
        await follow.on_promoted(promoted(1, name))  # a and b unloaded, c loaded

    answered = await asyncio.gather(holders.holder("a"), holders.holder("b"))

    assert [h.current.promoted.dataset for h in answered] == ["a", "b"]  # type: ignore[union-attr]
    assert len(loaded(holders)) == 1 and counted("models_loaded") == 1
