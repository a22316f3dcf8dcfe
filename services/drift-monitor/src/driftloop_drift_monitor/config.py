"""What the policy needs to know besides the state: the detection configuration of a dataset,
and how many watches to keep.

Every dataset gets the same configuration for now; the policy asks `Configs.of(dataset)`, so a
per-dataset configuration is a new implementation of that one method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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
