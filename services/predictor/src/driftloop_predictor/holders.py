"""Every dataset's models: one ModelHolder per dataset, under a memory bound.

A model loads when it is promoted (or starts a rollout) and is dropped when another replaces
it, when its rollout ends, or when the bound needs room: then the datasets used least
recently are unloaded whole, their promotions kept, and their next request loads them again
(the requests that arrive meanwhile share that one load). A model that cannot be loaded is
refused, counted and logged, and what served that dataset goes on serving.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_core import DriftloopError, NotFound, NotReady
from driftloop_core.telemetry import get_logger
from driftloop_ml import ArtifactError
from prometheus_client import Counter, Gauge

from .model import LoadedModel, ModelHolder, Rollout
from .room import Evict, Loaded, fit, make_room

MODELS_LOADED = Gauge(
    "driftloop_predictor_models_loaded", "Models in memory: champions and rollout candidates."
)
MODELS_BYTES = Gauge(
    "driftloop_predictor_models_bytes",
    "Estimated bytes of the models in memory (the sizes of their artifacts).",
)
DATASETS_SERVED = Gauge("driftloop_predictor_datasets", "Datasets with a champion to serve.")
MODEL_LOADS = Counter(
    "driftloop_predictor_model_loads_total",
    "Models loaded, by why: promoted, rollout, reload (after the bound unloaded them), "
    "from_rollout (a promoted rollout candidate, already in memory).",
    ["reason"],
)
MODEL_UNLOADS = Counter(
    "driftloop_predictor_model_unloads_total",
    "Models dropped, by why: replaced, rollout_ended, bound (least recently used).",
    ["reason"],
)
MODEL_REFUSALS = Counter(
    "driftloop_predictor_model_refusals_total",
    "Models not loaded, by why: load_failed, bound (past PREDICTOR_MAX_MODEL_MB or "
    "PREDICTOR_MAX_MODELS on its own).",
    ["reason"],
)
MODEL_LOAD_FAILURES = Counter(
    "driftloop_predictor_model_load_failures_total", "Promoted models that could not be loaded."
)
log = get_logger(__name__)

Event = ModelPromoted | RolloutChanged
#: Verifies, loads (trusted types only) and warms up the model an event names; raises if not.
Load = Callable[[Event], LoadedModel]


class Models(Protocol):
    """What the data plane and the routes read: a holder per dataset."""

    #: The dataset /v1/predict answers for when it is not the only one (None: none).
    default: str | None

    def datasets(self) -> list[str]: ...

    def peek(self, dataset: str) -> Served | None:
        """What serves `dataset`, without loading or counting a use."""

    async def holder(self, dataset: str | None) -> ModelHolder:
        """The holder that answers `dataset` (None: the default), loaded again if the bound
        unloaded it; NotFound or NotReady saying why there is none."""


@dataclass
class Served:
    """One dataset: its holder, and the events that put its models there (to load them
    again after the bound unloaded them)."""

    holder: ModelHolder = field(default_factory=ModelHolder)
    champion: ModelPromoted | None = None
    rollout: RolloutChanged | None = None
    reloading: asyncio.Task[ModelHolder] | None = None

    @property
    def loaded(self) -> bool:
        return self.holder.current is not None

    def usage(self, dataset: str) -> Loaded:
        models = [m for m in (self.holder.current, self._candidate()) if m is not None]
        return Loaded(dataset, len(models), sum(m.promoted.artifact.size for m in models))

    def _candidate(self) -> LoadedModel | None:
        return self.holder.rollout.model if self.holder.rollout else None


class Holders:
    def __init__(
        self,
        load: Load,
        *,
        default: str | None = None,
        max_models: int = 64,
        max_bytes: int | None = None,
    ) -> None:
        self._load = load
        self.default = default
        self.max_models = max_models
        self.max_bytes = max_bytes
        self._served: OrderedDict[str, Served] = OrderedDict()  # least recently used first

    def datasets(self) -> list[str]:
        return sorted(name for name, s in self._served.items() if s.champion is not None)

    def peek(self, dataset: str) -> Served | None:
        served = self._served.get(dataset)
        return served if served is not None and served.champion is not None else None

    async def holder(self, dataset: str | None) -> ModelHolder:
        name = self._resolve(dataset)
        served = self.peek(name)
        if served is None:
            if dataset is None:
                raise NotReady(
                    f"no model is loaded yet for {name!r}: none has been promoted, or "
                    "loading failed"
                )
            raise NotFound(f"no model serves dataset {name!r}; {self._serving()}")
        self._served.move_to_end(name)
        if not served.loaded:
            return await self._reload(name, served)
        return served.holder

    def _resolve(self, dataset: str | None) -> str:
        if dataset is not None:
            return dataset
        if self.default is not None:
            return self.default
        names = self.datasets()
        if len(names) == 1:
            return names[0]
        if not names:
            raise NotReady("no model is loaded yet: none has been promoted, or loading failed")
        raise NotFound(
            f"this predictor serves {len(names)} datasets, so it has no default model: "
            f"POST /v1/models/{{dataset}}/predict instead; {self._serving()}"
        )

    def _serving(self) -> str:
        names = self.datasets()
        return f"serving: {', '.join(names)}" if names else "none serves yet"

    async def load(self, event: Event, reason: str, refused: str) -> LoadedModel | None:
        """Make room under the bound, then load; None (refused, counted, logged) if the
        bound or the artifact does not allow it."""
        served = self._served.get(event.dataset, Served())
        if (reused := _candidate_promoted(served, event)) is not None:
            MODEL_LOADS.labels(reason="from_rollout").inc()
            return reused
        replaced = served.holder.current if isinstance(event, ModelPromoted) else None
        if isinstance(event, RolloutChanged) and served.holder.rollout is not None:
            replaced = served.holder.rollout.model
        decision = make_room(
            [s.usage(name) for name, s in self._served.items()],
            event.dataset,
            event.artifact.size,
            freed=int(replaced is not None),
            freed_bytes=replaced.promoted.artifact.size if replaced else 0,
            max_models=self.max_models,
            max_bytes=self.max_bytes,
        )
        if not isinstance(decision, Evict):
            MODEL_REFUSALS.labels(reason="bound").inc()
            log.error(
                refused, dataset=event.dataset, version=event.model_version, error=decision.reason
            )
            return None
        for name in decision.datasets:
            self._unload(name, "bound")
        try:
            model = await asyncio.to_thread(self._load, event)
        except Exception as exc:
            MODEL_LOAD_FAILURES.inc()
            MODEL_REFUSALS.labels(reason="load_failed").inc()
            log.error(
                refused,
                dataset=event.dataset,
                version=event.model_version,
                event_id=str(event.event_id),
                error=f"{type(exc).__name__}: {exc}",
                # A refusal we understand says why in one line; anything else gets its trace.
                exc_info=not isinstance(exc, DriftloopError | ArtifactError),
            )
            return None
        MODEL_LOADS.labels(reason=reason).inc()
        return model

    def serve_champion(self, event: ModelPromoted, model: LoadedModel) -> LoadedModel | None:
        """Swap `model` in for its dataset; the previous champion is dropped."""
        served = self._served.setdefault(event.dataset, Served())
        self._served.move_to_end(event.dataset)
        served.champion = event
        previous = served.holder.swap(model)
        if previous is not None:
            MODEL_UNLOADS.labels(reason="replaced").inc()
        self._trim(event.dataset)
        return previous

    def serve_rollout(self, event: RolloutChanged, model: LoadedModel) -> None:
        served = self._served.setdefault(event.dataset, Served())
        if served.holder.rollout is not None:
            MODEL_UNLOADS.labels(reason="replaced").inc()
        served.rollout = event
        served.holder.rollout = Rollout(event.stage, model, event.share)  # type: ignore[arg-type]
        self._trim(event.dataset)

    def end_rollout(self, dataset: str) -> None:
        served = self._served.get(dataset)
        if served is None:
            return
        if served.holder.rollout is not None:
            MODEL_UNLOADS.labels(reason="rollout_ended").inc()
        served.rollout, served.holder.rollout = None, None
        self._measure()

    def _unload(self, dataset: str, reason: str) -> None:
        """Drop a dataset's models, keeping the events to load them again."""
        holder = self._served[dataset].holder
        dropped = int(holder.current is not None) + int(holder.rollout is not None)
        holder.current, holder.rollout = None, None
        MODEL_UNLOADS.labels(reason=reason).inc(dropped)
        log.info("models unloaded", dataset=dataset, reason=reason, models=dropped)
        self._measure()

    async def _reload(self, dataset: str, served: Served) -> ModelHolder:
        """The dataset loaded again; the requests waiting meanwhile share one load. If other
        loads unloaded it again before they resumed, they are answered from what was loaded
        for them (the bound is exceeded by that much while they finish)."""
        if served.reloading is None or served.reloading.done():
            served.reloading = asyncio.create_task(self._load_again(dataset, served))
        loaded = await asyncio.shield(served.reloading)
        if served.loaded:
            return served.holder
        if loaded.current is None:
            raise NotReady(
                f"the model of {dataset!r} was unloaded to stay under the memory bound and "
                "could not be loaded again; see the predictor's log"
            )
        return loaded

    async def _load_again(self, dataset: str, served: Served) -> ModelHolder:
        champion, rollout = served.champion, served.rollout
        if champion is not None:
            model = await self.load(champion, "reload", "model not loaded again")
            if model is not None and served.champion is champion and not served.loaded:
                served.holder.current = model  # unless a promotion got there first
        if rollout is not None and served.loaded and served.holder.rollout is None:
            candidate = await self.load(rollout, "reload", "rollout candidate not loaded again")
            if candidate is not None and served.rollout is rollout:
                served.holder.rollout = Rollout(rollout.stage, candidate, rollout.share)  # type: ignore[arg-type]
        loaded = ModelHolder()  # what this load put in, whatever unloads it later
        loaded.current, loaded.rollout = served.holder.current, served.holder.rollout
        self._trim(dataset)
        return loaded

    def _trim(self, keep: str) -> None:
        """Back under the bound after a model went in: loads that ran side by side each made
        room for themselves alone."""
        decision = fit(
            [s.usage(name) for name, s in self._served.items()],
            keep,
            max_models=self.max_models,
            max_bytes=self.max_bytes,
        )
        for name in decision.datasets if isinstance(decision, Evict) else ():
            self._unload(name, "bound")
        self._measure()

    def _measure(self) -> None:
        usage = [s.usage(name) for name, s in self._served.items()]
        MODELS_LOADED.set(sum(u.models for u in usage))
        MODELS_BYTES.set(sum(u.bytes for u in usage))
        DATASETS_SERVED.set(len(self.datasets()))


def _candidate_promoted(served: Served, event: Event) -> LoadedModel | None:
    """The rollout candidate itself when it is the model promoted (a canary promoted to all):
    no second load, no second copy in memory."""
    rollout = served.holder.rollout
    if not isinstance(event, ModelPromoted) or rollout is None:
        return None
    if rollout.model.promoted.artifact.sha256 != event.artifact.sha256:
        return None
    return dataclasses.replace(rollout.model, promoted=event)


class OneModel:
    """One holder, whatever its dataset: a data plane built around a single model."""

    default: str | None = None

    def __init__(self, holder: ModelHolder) -> None:
        self._holder = holder

    def datasets(self) -> list[str]:
        current = self._holder.current
        return [current.promoted.dataset] if current else []

    def peek(self, dataset: str) -> Served | None:
        current, rollout = self._holder.current, self._holder.rollout
        if current is None or current.promoted.dataset != dataset:
            return None
        candidate = rollout.model.promoted if rollout else None
        return Served(
            self._holder,
            current.promoted if isinstance(current.promoted, ModelPromoted) else None,
            candidate if isinstance(candidate, RolloutChanged) else None,
        )

    async def holder(self, dataset: str | None) -> ModelHolder:
        if dataset is not None and dataset not in self.datasets():
            raise NotFound(f"no model serves dataset {dataset!r}")
        return self._holder
