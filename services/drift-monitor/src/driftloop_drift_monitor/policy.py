"""The monitor's decisions, in pure code over a snapshot: no Redis, no store, no clock.

A delivery's events are grouped by the (dataset, model version) that served them. For each,
the snapshot says what the registry's serving state holds about that version (its promotion,
its profile if the monitor does not hold it yet, the kinds already fired for it) and what the
monitor's memory holds. The policy advances copies of the touched detectors, turns findings of
kinds not yet fired into drift events, and returns effects: `Announce` (publish the event with
its report and fired marker), `Ignore` (rows of a version it cannot watch) and `Install` (the
new watches, which the adapter swaps in only after the commit succeeded).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, TypeVar

import numpy as np
from driftloop_contracts import (
    DriftDetected,
    DriftKind,
    ModelPromoted,
    PredictionsLabelled,
    PredictionsLogged,
    ReferenceProfile,
    Role,
    WindowRef,
    derived_id,
)

from .columns import event_columns
from .config import Configs, Limits, WatchConfig
from .errors import ErrorDetector, absolute_errors
from .performance import PerformanceDetector
from .watch import NOT_REARMED, Rearm, Watch, WatchKey, new_watch, rearmed
from .windows import Finding

PRODUCER = "drift-monitor"
#: Rows the champion's drift is judged on. Canary rows come from a candidate, shadow rows were
#: never answered; a live trial comparing them would route them to watches of its own here.
WATCHED_ROLES: frozenset[Role] = frozenset({"primary"})
Reason = Literal[
    "no_promotion", "untrusted_promotion", "profile_unavailable", "not_watched", "role"
]
E = TypeVar("E", PredictionsLogged, PredictionsLabelled)


# ------------------------------------------------------------------ the snapshot


@dataclass(frozen=True)
class Serving:
    """The serving state of one version, as read for this delivery."""

    promotion: ModelPromoted
    #: Loaded when the monitor holds no watch of this promotion; None otherwise.
    profile: ReferenceProfile | None
    #: Kinds whose fired marker for this promotion is in Redis (any replica's).
    fired: frozenset[DriftKind] = frozenset()
    #: The performance kind's re-arms for this promotion, as recorded in Redis.
    rearm: Rearm = NOT_REARMED


@dataclass(frozen=True)
class Unservable:
    """A version the monitor cannot watch, and why."""

    reason: Reason
    detail: str


@dataclass(frozen=True)
class Snapshot:
    watches: Mapping[WatchKey, Watch]
    serving: Mapping[WatchKey, Serving | Unservable]
    #: This delivery's sequence number (newer deliveries have larger ones).
    seq: int
    #: When the delivery is handled: the time drift events carry.
    now: datetime


# ------------------------------------------------------------------- the effects


@dataclass(frozen=True)
class Announce:
    """Publish a drift event, store its report, set its fired marker: one commit."""

    key: WatchKey
    event: DriftDetected
    finding: Finding
    profile: ReferenceProfile
    promotion_id: uuid.UUID


@dataclass(frozen=True)
class Ignore:
    """Rows (or labels) of a version that is not watched."""

    key: WatchKey
    rows: int
    reason: Reason
    detail: str = ""


@dataclass(frozen=True)
class Install:
    """The watches this delivery produced, and those to forget, swapped in after the commit."""

    watches: Mapping[WatchKey, Watch]
    evict: tuple[WatchKey, ...] = ()


Effect = Announce | Ignore | Install


# -------------------------------------------------------------------- grouping


def by_version(events: Iterable[E]) -> tuple[dict[WatchKey, list[E]], list[Ignore]]:
    """Events by the version that served them; those of roles not watched apart."""
    batches: dict[WatchKey, list[E]] = {}
    ignored: list[Ignore] = []
    for event in events:
        key = WatchKey(event.dataset, event.model_version)
        if event.role not in WATCHED_ROLES:
            ignored.append(Ignore(key, len(event), "role", event.role))
        else:
            batches.setdefault(key, []).append(event)
    return batches, ignored


# -------------------------------------------------------------------- decisions


def on_logged(
    snapshot: Snapshot,
    batches: Mapping[WatchKey, Sequence[PredictionsLogged]],
    configs: Configs,
) -> list[Effect]:
    """Rows into the windows of the versions that served them; drift events for new kinds."""
    effects: list[Effect] = []
    installed: dict[WatchKey, Watch] = {}
    for key, events in batches.items():
        watch = _current(snapshot, key, configs.of(key.dataset), sum(map(len, events)))
        if isinstance(watch, Ignore):
            effects.append(watch)
            continue
        windows = watch.windows.copy()
        findings = [
            f
            for e in events
            for f in windows.observe(event_columns(e, windows.kinds, windows.numeric_predictions))
        ]
        watch = replace(watch, windows=windows, last_seen=snapshot.seq)
        installed[key], announced = _announce(
            watch, findings, configs.of(key.dataset), snapshot.now
        )
        effects += announced
    effects.append(Install(installed, evicted(snapshot.watches, installed, configs.limits)))
    return effects


def on_labelled(
    snapshot: Snapshot,
    batches: Mapping[WatchKey, Sequence[PredictionsLabelled]],
    configs: Configs,
) -> list[Effect]:
    """Outcomes into the error streams of watched versions; labels of other versions (one no
    longer watched, or never seen serving) are ignored."""
    effects: list[Effect] = []
    installed: dict[WatchKey, Watch] = {}
    for key, events in batches.items():
        rows = sum(map(len, events))
        if key not in snapshot.watches:
            effects.append(Ignore(key, rows, "not_watched"))
            continue
        watch = _current(snapshot, key, configs.of(key.dataset), rows)
        if isinstance(watch, Ignore):
            effects.append(watch)
            continue
        performance = watch.performance.copy()
        judge = "performance" not in watch.fired
        findings = [f for e in events for f in observe_labels(performance, e, judge)]
        watch = replace(watch, performance=performance)
        installed[key], announced = _announce(
            watch, findings, configs.of(key.dataset), snapshot.now
        )
        effects += announced
    effects.append(Install(installed, evicted(snapshot.watches, installed, configs.limits)))
    return effects


def observe_labels(
    performance: PerformanceDetector, event: PredictionsLabelled, judge: bool
) -> list[Finding]:
    """A regression watch takes absolute errors, a classifier's whether it was right."""
    if isinstance(performance, ErrorDetector):
        return performance.observe_errors(*absolute_errors(event), judge=judge)
    return performance.observe(*outcomes(event), judge=judge)


def outcomes(event: PredictionsLabelled) -> tuple[np.ndarray, tuple[int, ...]]:
    """Whether each prediction was right, and when it was made."""
    correct = np.fromiter(
        (p == y or str(p) == str(y) for p, y in zip(event.predictions, event.labels, strict=True)),
        dtype=bool,
        count=len(event),
    )
    return correct, event.predicted_at_ms


def _current(snapshot: Snapshot, key: WatchKey, config: WatchConfig, rows: int) -> Watch | Ignore:
    """The watch to advance: the one in memory while its promotion still serves, else a new
    one for the promotion the serving state holds now (a re-promotion starts afresh)."""
    serving = snapshot.serving.get(key)
    if serving is None:
        return Ignore(key, rows, "no_promotion", "not in the snapshot")
    if isinstance(serving, Unservable):
        return Ignore(key, rows, serving.reason, serving.detail)
    held = snapshot.watches.get(key)
    if held is not None and held.promotion.event_id == serving.promotion.event_id:
        if serving.rearm.count > held.rearm.count:  # re-armed by another replica
            held = rearmed(held, serving.rearm, config)
        return replace(held, fired=held.fired | serving.fired)
    if serving.profile is None:
        return Ignore(key, rows, "profile_unavailable", "the snapshot did not load it")
    seen = held.last_seen if held is not None else snapshot.seq
    return new_watch(
        key,
        serving.promotion,
        serving.profile,
        config,
        fired=serving.fired,
        seen=seen,
        rearm=serving.rearm,
    )


def _announce(
    watch: Watch, findings: Sequence[Finding], config: WatchConfig, now: datetime
) -> tuple[Watch, list[Effect]]:
    """The first finding of each kind not fired yet becomes a drift event."""
    fired = set(watch.fired)
    effects: list[Effect] = []
    for finding in findings:
        if finding.kind in fired:
            continue
        fired.add(finding.kind)
        rearms = watch.rearm.count if finding.kind == "performance" else 0
        event = drift_event(watch.promotion, finding, config.public_url, now, rearms)
        effects.append(Announce(watch.key, event, finding, watch.profile, watch.promotion.event_id))
    return replace(watch, fired=frozenset(fired)), effects


def drift_event(
    promotion: ModelPromoted,
    finding: Finding,
    public_url: str,
    now: datetime,
    rearms: int = 0,
) -> DriftDetected:
    """The event of one finding; its id is derived from the promotion, the kind and how many
    times the kind was re-armed, so a retry (or another replica) announces the same event."""
    event_id = drift_id(promotion.event_id, finding.kind, rearms)
    return DriftDetected(
        event_id=event_id,
        occurred_at=now,
        report_url=f"{public_url.rstrip('/')}/v1/reports/{event_id}",
        producer=PRODUCER,
        dataset=promotion.dataset,
        model_version=promotion.model_version,
        kind=finding.kind,
        window=WindowRef(start=finding.start, end=finding.end, rows=finding.rows),
        evidence=finding.evidence,
    )


def drift_id(promotion_id: uuid.UUID, kind: str, rearms: int = 0) -> uuid.UUID:
    """The id of a promotion's drift event of `kind` after `rearms` re-arms of the kind."""
    if rearms == 0:
        return derived_id("drift", promotion_id, kind)
    return derived_id("drift", promotion_id, kind, "rearmed", rearms)


def evicted(
    held: Mapping[WatchKey, Watch], installed: Mapping[WatchKey, Watch], limits: Limits
) -> tuple[WatchKey, ...]:
    """Watches beyond the limits once `installed` is in, the least recently seen first."""
    watches = {**held, **installed}
    newest_first = sorted(watches.values(), key=lambda w: (-w.last_seen, w.key))
    kept: list[Watch] = []
    per_dataset: dict[str, int] = {}
    for watch in newest_first:
        count = per_dataset.get(watch.key.dataset, 0)
        if count < limits.versions_per_dataset and len(kept) < limits.max_watches:
            per_dataset[watch.key.dataset] = count + 1
            kept.append(watch)
    keep = {w.key for w in kept}
    return tuple(sorted(k for k in watches if k not in keep))
