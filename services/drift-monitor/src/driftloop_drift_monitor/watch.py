"""A watch: what the monitor knows about one (dataset, model version) the predictor serves.

Watches are values the policy replaces, never changes in place: a handler works on copies of
the detectors it touches (copy-on-write) and the new watches are installed only after the
delivery's commit succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
class Rearm:
    """The performance kind re-armed after the trainer found the champion holds (a
    `training.skipped` of reason champion_holds for this promotion's performance drift):
    how many times, and the accuracy the performance detector judges against since."""

    count: int = 0
    #: The champion's accuracy on the post-onset rows as the trainer measured it, when under
    #: the promoted accuracy: the level a retrain could not beat. None: the promoted one.
    baseline: float | None = None


NOT_REARMED = Rearm()


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
    #: The performance kind's re-arms (a cache of the record in Redis).
    rearm: Rearm = Rearm()


def new_watch(
    key: WatchKey,
    promotion: ModelPromoted,
    profile: ReferenceProfile,
    config: WatchConfig,
    *,
    fired: frozenset[DriftKind] = frozenset(),
    seen: int = 0,
    rearm: Rearm = Rearm(),
) -> Watch:
    return Watch(
        key=key,
        promotion=promotion,
        profile=profile,
        windows=WindowDetector(profile, config.windows),
        performance=performance_detector(promotion, profile, config, rearm.baseline),
        fired=fired,
        last_seen=seen,
        rearm=rearm,
    )


def performance_detector(
    promotion: ModelPromoted,
    profile: ReferenceProfile,
    config: WatchConfig,
    baseline: float | None = None,
) -> PerformanceDetector:
    """Errors against the holdout's for a regression model, right/wrong against the promoted
    accuracy (or `baseline`, once re-armed under it) for a classifier. A regression model
    whose profile lacks its holdout errors (one trained elsewhere) is judged against normal
    errors of the MAE it was promoted with."""
    if profile.holdout_errors:
        return ErrorDetector(profile.holdout_errors, config.performance)
    if promotion.metrics.mae is not None:
        return ErrorDetector(normal_errors(promotion.metrics.mae), config.performance)
    accuracy = promotion.metrics.accuracy if baseline is None else baseline
    return PerformanceDetector.of(accuracy, config.performance)


def rearmed(watch: Watch, rearm: Rearm, config: WatchConfig) -> Watch:
    """The watch with its performance kind armed again: a fresh detector (the labels that
    raised the skipped drift are not judged twice), against the re-arm's baseline. The live
    accuracy history is kept: it is what was served."""
    performance = performance_detector(watch.promotion, watch.profile, config, rearm.baseline)
    performance.history = watch.performance.history
    return replace(watch, performance=performance, fired=watch.fired - {"performance"}, rearm=rearm)


def normal_errors(mae: float, n: int = 1000) -> tuple[float, ...]:
    """Absolute values of normal errors with mean absolute value `mae`, at n even quantiles."""
    quantiles = norm.ppf(0.5 + 0.5 * (np.arange(n) + 0.5) / n)
    return tuple((quantiles * mae * np.sqrt(np.pi / 2)).tolist())
