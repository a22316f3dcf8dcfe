"""What the predictor serves follows the registry: the serving state at start-up, then the
streams; models that cannot be loaded are refused and what served goes on serving."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import structlog
from driftloop_bus.serving import ServingState
from driftloop_contracts import Metrics, ModelPromoted, RolloutChanged
from driftloop_core import IntegrityError
from driftloop_predictor.encoding import RowEncoder
from driftloop_predictor.following import Following
from driftloop_predictor.model import LoadedModel, ModelHolder
from driftloop_sdk.scenario import SCHEMA
from prometheus_client import REGISTRY

from tests.support.events import blob

METRICS = Metrics(accuracy=0.8, f1_macro=0.75, rows=300)


def promoted(version: int, dataset: str = "demo") -> ModelPromoted:
    return ModelPromoted(
        producer="registry",
        dataset=dataset,
        model_version=version,
        previous_version=None,
        reason="gate",
        artifact=blob("models", f"v{version}"),
        profile=blob("profiles", f"v{version}"),
        metrics=METRICS,
        dataset_schema=SCHEMA,
    )


def rollout(version: int, stage: str = "canary", dataset: str = "demo") -> RolloutChanged:
    return RolloutChanged(
        producer="registry",
        dataset=dataset,
        stage=stage,
        outcome="started" if stage != "ended" else "aborted",
        model_version=version,
        share=0.3 if stage == "canary" else 0.0,
        artifact=blob("models", f"v{version}"),
        profile=blob("profiles", f"v{version}"),
        metrics=METRICS,
        dataset_schema=SCHEMA,
    )


class Loader:
    """Loads any version but the broken ones, and remembers what it was asked for."""

    def __init__(self, broken: set[int] | None = None) -> None:
        self.broken = broken or set()
        self.asked: list[int] = []

    def __call__(self, event: ModelPromoted | RolloutChanged) -> LoadedModel:
        self.asked.append(event.model_version)
        if event.model_version in self.broken:
            raise IntegrityError(f"blob of v{event.model_version} has another sha256")
        return LoadedModel(event, None, SCHEMA, np.asarray(["no", "yes"]), RowEncoder(SCHEMA))


@pytest.fixture
def holder() -> ModelHolder:
    return ModelHolder()


def following(holder: ModelHolder, loader: Loader) -> Following:
    return Following("demo", holder, loader)


def load_failures() -> float:
    return REGISTRY.get_sample_value("driftloop_predictor_model_load_failures_total") or 0.0


def version(holder: ModelHolder) -> int | None:
    return holder.current.version if holder.current else None


async def test_a_start_serves_the_champion_and_rollout_of_its_own_dataset(
    holder: ModelHolder,
) -> None:
    state = ServingState(
        champions={"demo": promoted(3), "loans": promoted(9, "loans")},
        rollouts={"demo": rollout(4), "loans": rollout(10, dataset="loans")},
    )

    await following(holder, Loader()).start_from(state)

    assert version(holder) == 3
    assert holder.rollout is not None
    assert (holder.rollout.stage, holder.rollout.model.version) == ("canary", 4)


async def test_a_start_with_nothing_for_its_dataset_serves_nothing(holder: ModelHolder) -> None:
    loader = Loader()

    await following(holder, loader).start_from(ServingState(champions={"x": promoted(1, "x")}))

    assert holder.current is None and holder.rollout is None
    assert loader.asked == []


async def test_promotions_of_other_datasets_are_ignored(holder: ModelHolder) -> None:
    follow = following(holder, Loader())
    await follow.on_promoted(promoted(1))

    await follow.on_promoted(promoted(5, "loans"))

    assert version(holder) == 1


async def test_a_model_that_cannot_be_loaded_is_refused_counted_and_logged(
    holder: ModelHolder,
) -> None:
    follow = following(holder, Loader(broken={2}))
    await follow.on_promoted(promoted(1))
    failures = load_failures()

    with structlog.testing.capture_logs() as logs:
        await follow.on_promoted(promoted(2))

    assert version(holder) == 1
    assert load_failures() == failures + 1
    (line,) = [e for e in logs if e["log_level"] == "error"]
    assert line["version"] == 2 and "another sha256" in line["error"]
    assert line["exc_info"] is False  # a refusal we understand: one line, no traceback


async def test_a_broken_rollout_candidate_leaves_the_rollout_as_it_was(
    holder: ModelHolder,
) -> None:
    follow = following(holder, Loader(broken={7}))
    await follow.on_rollout(rollout(4))

    await follow.on_rollout(rollout(7, "shadow"))

    assert holder.rollout is not None and holder.rollout.model.version == 4


async def test_a_rollout_that_ended_is_dropped_without_loading_anything(
    holder: ModelHolder,
) -> None:
    loader = Loader()
    follow = following(holder, loader)
    await follow.on_rollout(rollout(4))

    await follow.on_rollout(rollout(4, "ended"))

    assert holder.rollout is None
    assert loader.asked == [4]


async def test_the_failpoint_hook_runs_between_loading_and_swapping(holder: ModelHolder) -> None:
    seen: list[Any] = []

    async def before_swap() -> None:
        seen.append(version(holder))

    follow = Following("demo", holder, Loader(), before_swap)
    await follow.on_promoted(promoted(1))
    await follow.on_promoted(promoted(2))

    assert seen == [None, 1]
    assert version(holder) == 2
