"""A watch: what the monitor knows about one (dataset, model version) the predictor serves.

Watches are values the policy replaces, never changes in place: a handler works on copies of
the detectors it touches (copy-on-write) and the new watches are installed only after the
delivery's commit succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from driftloop_contracts import DriftKind, ModelPromoted, ReferenceProfile
from scipy.stats import norm

from .config import WatchConfig
from .errors import ErrorDetector
from .performance import PerformanceDetector
from .windows import WindowDetector


@dataclass(frozen=True, order=True)
class WatchKey:
    dataset: str
    version: int

    def __str__(self) -> str:
        return f"{self.dataset}/v{self.version}"


@dataclass(frozen=True)
class Watch:
    key: WatchKey
    #: The version's last promotion in the registry's serving state: its baseline metrics,
    #: its profile, and the id drift events and fired markers are keyed by.
    promotion: ModelPromoted
    profile: ReferenceProfile
    windows: WindowDetector
    performance: PerformanceDetector
    #: Kinds already announced for this promotion (a cache of the markers in Redis).
    fired: frozenset[DriftKind] = frozenset()
    #: Sequence number of the last delivery whose prediction logs carried this version.
    last_seen: int = 0


def new_watch(
    key: WatchKey,
    promotion: ModelPromoted,
    profile: ReferenceProfile,
    config: WatchConfig,
    *,
    fired: frozenset[DriftKind] = frozenset(),
    seen: int = 0,
) -> Watch:
    return Watch(
        key=key,
        promotion=promotion,
        profile=profile,
        windows=WindowDetector(profile, config.windows),
        performance=performance_detector(promotion, profile, config),
        fired=fired,
        last_seen=seen,
    )


def performance_detector(
    promotion: ModelPromoted, profile: ReferenceProfile, config: WatchConfig
) -> PerformanceDetector:
    """Errors against the holdout's for a regression model, right/wrong against the promoted
    accuracy for a classifier. A regression model whose profile lacks its holdout errors (one
    trained elsewhere) is judged against normal errors of the MAE it was promoted with."""
    if profile.holdout_errors:
        return ErrorDetector(profile.holdout_errors, config.performance)
    if promotion.metrics.mae is not None:
        return ErrorDetector(normal_errors(promotion.metrics.mae), config.performance)
    return PerformanceDetector.of(promotion.metrics.accuracy, config.performance)


def normal_errors(mae: float, n: int = 1000) -> tuple[float, ...]:
    """Absolute values of normal errors with mean absolute value `mae`, at n even quantiles."""
    quantiles = norm.ppf(0.5 + 0.5 * (np.arange(n) + 0.5) / n)
    return tuple((quantiles * mae * np.sqrt(np.pi / 2)).tolist())
