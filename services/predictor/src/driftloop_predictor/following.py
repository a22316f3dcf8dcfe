"""What this predictor serves follows what the registry decided for its dataset.

At start-up, from the registry's serving state (driftloop_bus.serving): the champion's
promotion and the rollout in progress for this dataset, whatever the streams' last entries
are (another dataset's, or unreadable). Then from the streams, entry by entry, from the
positions read with that state. A model that cannot be loaded (missing, forged, another
schema) is refused, counted and logged, and what served goes on serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from driftloop_bus import serving
from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_core import DriftloopError
from driftloop_core.telemetry import get_logger
from driftloop_ml import ArtifactError
from prometheus_client import Counter, Gauge

from .model import LoadedModel, ModelHolder, Rollout

MODEL_VERSION = Gauge("driftloop_predictor_model_version", "Model version serving (0: none).")
PROMOTED_AT = Gauge(
    "driftloop_predictor_model_promoted_timestamp_seconds",
    "When the model serving now was promoted (Unix time).",
)
MODEL_SWAPS = Counter("driftloop_predictor_model_swaps_total", "Models swapped in.")
ROLLOUT_SHARE = Gauge("driftloop_predictor_canary_share", "Share of requests the canary answers.")
MODEL_LOAD_FAILURES = Counter(
    "driftloop_predictor_model_load_failures_total", "Promoted models that could not be loaded."
)
log = get_logger(__name__)

#: Verifies, unpickles and warms up the model an event names; raises if it cannot.
Load = Callable[[ModelPromoted | RolloutChanged], LoadedModel]
Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class Following:
    def __init__(
        self, dataset: str, holder: ModelHolder, load: Load, before_swap: Hook = _nothing
    ) -> None:
        self.dataset = dataset
        self.holder = holder
        self.load = load
        self.before_swap = before_swap

    async def start_from(self, state: serving.ServingState) -> None:
        """Serve what the serving state says serves this dataset now."""
        if (champion := state.champions.get(self.dataset)) is not None:
            await self.on_promoted(champion)
        if (rollout := state.rollouts.get(self.dataset)) is not None:
            await self.on_rollout(rollout)

    async def on_promoted(self, event: ModelPromoted) -> None:
        if event.dataset != self.dataset:
            return
        model = await self._load(event, "promoted model not loaded; serving what we had")
        if model is None:
            return
        await self.before_swap()
        previous = self.holder.swap(model)
        MODEL_VERSION.set(model.version)
        PROMOTED_AT.set(event.occurred_at.timestamp())
        MODEL_SWAPS.inc()
        log.info(
            "model swapped in",
            version=model.version,
            previous=previous.version if previous else None,
            reason=event.reason,
        )

    async def on_rollout(self, event: RolloutChanged) -> None:
        if event.dataset != self.dataset:
            return
        if event.stage == "ended":
            self.holder.rollout = None
            ROLLOUT_SHARE.set(0)
            log.info("rollout ended", version=event.model_version, outcome=event.outcome)
            return
        model = await self._load(event, "rollout candidate not loaded; rollout unchanged")
        if model is None:
            return
        self.holder.rollout = Rollout(event.stage, model, event.share)
        ROLLOUT_SHARE.set(event.share if event.stage == "canary" else 0)
        log.info("rollout", stage=event.stage, version=model.version, share=event.share)

    async def _load(
        self, event: ModelPromoted | RolloutChanged, refused: str
    ) -> LoadedModel | None:
        try:
            return await asyncio.to_thread(self.load, event)
        except Exception as exc:
            MODEL_LOAD_FAILURES.inc()
            log.error(
                refused,
                version=event.model_version,
                event_id=str(event.event_id),
                error=f"{type(exc).__name__}: {exc}",
                # A refusal we understand says why in one line; anything else gets its trace.
                exc_info=not isinstance(exc, DriftloopError | ArtifactError),
            )
            return None
