"""Per-dataset settings from the datasets' registrations: loaded at start-up from the dataset
registry state (driftloop_bus.datasets), then followed on dataset.registered. Overrides the
monitor cannot use (an unknown key, a value out of bounds: ingest refuses those, so they come
from elsewhere) are logged and counted, and the dataset keeps the configuration it had."""

from __future__ import annotations

from driftloop_bus import Bus, Follower, Keys, datasets
from driftloop_contracts import DatasetRegistered, streams
from driftloop_contracts.codec import describe_validation_error
from driftloop_contracts.specs import MonitoringOverrides
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter
from pydantic import ValidationError

from .config import PerDataset

OVERRIDES_REFUSED = Counter(
    "driftloop_monitor_overrides_refused_total",
    "Registrations whose monitoring overrides could not be used (the dataset kept the "
    "configuration it had).",
)
log = get_logger(__name__)


def apply_registration(configs: PerDataset, event: DatasetRegistered) -> None:
    try:
        overrides = MonitoringOverrides.model_validate(event.monitoring).given()
    except ValidationError as exc:
        OVERRIDES_REFUSED.inc()
        log.error(
            "monitoring overrides refused",
            dataset=event.dataset,
            reason=describe_validation_error(exc),
        )
        return
    configs.override(event.dataset, overrides)
    if overrides:
        log.info("monitoring overrides applied", dataset=event.dataset, overrides=overrides)


def follow_registrations(bus: Bus, configs: PerDataset) -> None:
    async def replay(keys: Keys) -> str:  # once per shard
        state = await datasets.load(bus.redis, keys)
        for event in state.datasets.values():
            apply_registration(configs, event)
        return state.registered_from

    async def on_registered(event: DatasetRegistered) -> None:
        apply_registration(configs, event)

    bus.follow(Follower(streams.DATASET_REGISTERED, on_registered, replay_shard=replay))
