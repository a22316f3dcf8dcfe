"""Each dataset's training spec, as registered: loaded at start-up from the dataset registry
state (driftloop_bus.datasets), then kept current by following dataset.registered.

A follower, not a consumer group: every trainer replica must know every dataset's spec.
"""

from __future__ import annotations

from driftloop_bus import datasets
from driftloop_contracts import DatasetRegistered, TrainingSpec
from driftloop_core.telemetry import get_logger

log = get_logger(__name__)


class TrainingSpecs:
    """The latest training spec per dataset (None: the trainer's default family)."""

    def __init__(self) -> None:
        self._specs: dict[str, TrainingSpec | None] = {}

    def get(self, dataset: str) -> TrainingSpec | None:
        return self._specs.get(dataset)

    def knows(self, dataset: str) -> bool:
        return dataset in self._specs

    def start_from(self, state: datasets.Registrations) -> None:
        for event in state.datasets.values():
            self._set(event)

    async def on_registered(self, event: DatasetRegistered) -> None:
        self._set(event)

    def _set(self, event: DatasetRegistered) -> None:
        if self._specs.get(event.dataset) != event.training or event.dataset not in self._specs:
            log.info(
                "training spec",
                dataset=event.dataset,
                spec=event.training.model_dump(exclude_none=True) if event.training else None,
            )
        self._specs[event.dataset] = event.training
