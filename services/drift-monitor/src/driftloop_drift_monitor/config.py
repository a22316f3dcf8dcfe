"""What the policy needs to know besides the state: the detection configuration of a dataset,
and how many watches to keep.

The policy asks `Configs.of(dataset)`: `PerDataset` answers with the monitor's defaults, or
with the configuration a dataset's registration overrides them with (registrations.py keeps it
live). A watch takes its dataset's configuration when it starts (at each promotion).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .performance import PerformanceConfig
from .windows import DriftConfig


@dataclass(frozen=True)
class WatchConfig:
    """How one dataset's versions are watched."""

    windows: DriftConfig = field(default_factory=DriftConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)
    #: Base URL drift events link their reports at.
    public_url: str = "http://127.0.0.1:8005"


@dataclass(frozen=True)
class Limits:
    """Watches are evicted beyond these, least recently seen first."""

    versions_per_dataset: int = 2
    max_watches: int = 64


class Configs(Protocol):
    @property
    def limits(self) -> Limits: ...

    def of(self, dataset: str) -> WatchConfig: ...


@dataclass(frozen=True)
class SameForEvery:
    """One configuration for every dataset."""

    config: WatchConfig = field(default_factory=WatchConfig)
    limits: Limits = field(default_factory=Limits)

    def of(self, dataset: str) -> WatchConfig:
        return self.config


@dataclass
class PerDataset:
    """The defaults, and each dataset's own configuration where its registration overrides
    them. `make` builds a configuration from overrides (the settings, updated)."""

    default: WatchConfig
    limits: Limits
    make: Callable[[Mapping[str, Any]], WatchConfig]
    overridden: dict[str, WatchConfig] = field(default_factory=dict)

    def of(self, dataset: str) -> WatchConfig:
        return self.overridden.get(dataset, self.default)

    def override(self, dataset: str, overrides: Mapping[str, Any]) -> None:
        """`dataset` uses the defaults with `overrides` (none: the defaults) from now on."""
        if overrides:
            self.overridden[dataset] = self.make(overrides)
        else:
            self.overridden.pop(dataset, None)
