"""What this predictor serves follows what the registry decided, for every dataset.

At start-up, from the registry's serving state (driftloop_bus.serving): each dataset's
champion promotion and rollout in progress, whatever the streams' last entries are. Then from
the streams, entry by entry, from the positions read with that state. A model that cannot be
loaded (missing, forged, another schema, past the memory bound) is refused, counted and
logged, and what served its dataset goes on serving; other datasets are not touched. So is a
decision the registry did not sign, or an old one published again (trust.py), before anything
is read from the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from driftloop_bus import serving
from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter, Gauge

from .holders import Holders
from .trust import Trust

MODEL_VERSION = Gauge(
    "driftloop_predictor_model_version", "Model version swapped in last, any dataset (0: none)."
)
PROMOTED_AT = Gauge(
    "driftloop_predictor_model_promoted_timestamp_seconds",
    "When the model swapped in last was promoted (Unix time).",
)
MODEL_SWAPS = Counter("driftloop_predictor_model_swaps_total", "Models swapped in.")
ROLLOUT_SHARE = Gauge(
    "driftloop_predictor_canary_share",
    "Share of requests the canary answers, by dataset.",
    ["dataset"],
)
log = get_logger(__name__)
Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class Following:
    def __init__(self, holders: Holders, trust: Trust, before_swap: Hook = _nothing) -> None:
        self.holders = holders
        self.trust = trust
        self.before_swap = before_swap

    async def start_from(self, state: serving.ServingState) -> None:
        """Serve what the serving state says serves each dataset now (what the registry
        signed for that dataset)."""
        for dataset, champion in state.champions.items():
            if self.trust.admit(champion, filed_under=dataset):
                await self._promoted(champion)
        for dataset, rollout in state.rollouts.items():
            if self.trust.admit(rollout, filed_under=dataset):
                await self._rollout(rollout)

    async def on_promoted(self, event: ModelPromoted) -> None:
        if self.trust.admit(event):
            await self._promoted(event)

    async def on_rollout(self, event: RolloutChanged) -> None:
        if self.trust.admit(event):
            await self._rollout(event)

    async def _promoted(self, event: ModelPromoted) -> None:
        model = await self.holders.load(
            event, "promoted", "promoted model not loaded; serving what we had"
        )
        if model is None:
            return
        await self.before_swap()
        previous = self.holders.serve_champion(event, model)
        MODEL_VERSION.set(model.version)
        PROMOTED_AT.set(event.occurred_at.timestamp())
        MODEL_SWAPS.inc()
        log.info(
            "model swapped in",
            dataset=event.dataset,
            version=model.version,
            previous=previous.version if previous else None,
            reason=event.reason,
        )

    async def _rollout(self, event: RolloutChanged) -> None:
        if event.stage == "ended":
            self.holders.end_rollout(event.dataset)
            ROLLOUT_SHARE.labels(dataset=event.dataset).set(0)
            log.info(
                "rollout ended",
                dataset=event.dataset,
                version=event.model_version,
                outcome=event.outcome,
            )
            return
        model = await self.holders.load(
            event, "rollout", "rollout candidate not loaded; rollout unchanged"
        )
        if model is None:
            return
        self.holders.serve_rollout(event, model)
        share = event.share if event.stage == "canary" else 0
        ROLLOUT_SHARE.labels(dataset=event.dataset).set(share)
        log.info(
            "rollout",
            dataset=event.dataset,
            stage=event.stage,
            version=model.version,
            share=event.share,
        )
