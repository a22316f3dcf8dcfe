"""The monitor's adapter: loads the snapshot, runs the policy, turns its effects into the
delivery's outputs, and swaps the new watches into memory after the commit.

Memory (the watches) changes only in an `AfterCommit`: a handler that fails, or a commit that
fails, leaves it as it was, so a retry neither skips a drift event nor adds its rows twice.
Deliveries of both streams run one at a time through `lock` (handler, commit and swap), so a
swap never replaces a watch another delivery has changed since its snapshot.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any

from driftloop_bus import AfterCommit, Output, Publish, RedisWrite
from driftloop_contracts import (
    BlobRef,
    PredictionsLabelled,
    PredictionsLogged,
    Stream,
    TrainingSkipped,
    streams,
    utcnow,
)
from driftloop_core import NotFound
from driftloop_core.telemetry import get_logger
from pydantic import ValidationError

from . import metrics, policy, rearm
from .config import Configs
from .policy import Announce, Effect, Ignore, Install, Snapshot
from .reader import Reader, Store, rearm_json
from .rearm import Rearmed
from .report import report
from .status import MonitorStatus, monitor_status
from .watch import Watch, WatchKey

log = get_logger(__name__)
REMEMBERED_IGNORES = 1024


class MonitorService:
    def __init__(self, configs: Configs, reader: Reader, store: Store) -> None:
        self.configs = configs
        self.reader = reader
        self.store = store
        self.watches: dict[WatchKey, Watch] = {}
        self.lock = asyncio.Lock()
        self._seq = 0
        self._logged_ignores: set[tuple[WatchKey, str]] = set()

    # ------------------------------------------------------------------ handlers

    async def on_predictions(self, events: Sequence[PredictionsLogged]) -> list[Output]:
        batches, ignored = policy.by_version(events)
        snapshot = await self._snapshot(batches)
        effects = policy.on_logged(snapshot, batches, self.configs)
        return await self._outputs([*ignored, *effects], snapshot, streams.PREDICTION_LOGGED)

    async def on_labelled(self, events: Sequence[PredictionsLabelled]) -> list[Output]:
        batches, ignored = policy.by_version(events)
        watched = {k: v for k, v in batches.items() if k in self.watches}
        snapshot = await self._snapshot(watched)
        effects = policy.on_labelled(snapshot, batches, self.configs)
        return await self._outputs([*ignored, *effects], snapshot, streams.PREDICTION_LABELLED)

    async def on_skipped(self, events: Sequence[TrainingSkipped]) -> list[Output]:
        """The trainer skipped a retrain because the champion holds: re-arm the kind."""
        touched = {WatchKey(e.dataset, e.model_version): e for e in events if rearm.rearms(e)}
        if not touched:
            return []
        snapshot = await self._snapshot(touched)
        effects = rearm.on_skipped(snapshot, events, self.configs)
        return await self._outputs(effects, snapshot, streams.TRAINING_SKIPPED)

    async def _snapshot(self, touched: dict[WatchKey, Any]) -> Snapshot:
        held = dict(self.watches)
        serving = await self.reader.serving(touched, held)
        return Snapshot(watches=held, serving=serving, seq=self._seq + 1, now=utcnow())

    # ------------------------------------------------------------------- effects

    async def _outputs(
        self, effects: Sequence[Effect | Rearmed], snapshot: Snapshot, stream: Stream[Any]
    ) -> list[Output]:
        out: list[Output] = []
        for effect in effects:
            if isinstance(effect, Rearmed):
                out += self._rearmed(effect)
            elif isinstance(effect, Announce):
                out += await self._announce(effect)
            elif isinstance(effect, Ignore):
                out.append(AfterCommit(self._ignored(effect, stream)))
            elif isinstance(effect, Install):
                out.append(AfterCommit(self._install(effect, snapshot.seq)))
        return out

    async def _announce(self, effect: Announce) -> list[Output]:
        """The event, its report and its fired marker, committed together. The report is in
        the store before the commit (content-addressed: a retry writes the same blob)."""
        event = effect.event
        page = report(event, effect.finding, effect.profile)
        blob = await asyncio.to_thread(
            self.store.put, page.encode(), kind=f"reports/{event.dataset}", suffix=".html"
        )
        fired = self.reader.own.fired(effect.promotion_id, event.kind, event.dataset)
        link = self.reader.own.report(event.event_id, event.dataset)
        return [
            Publish(streams.DRIFT_DETECTED, event),
            _set(fired, str(event.event_id)),
            _set(link, blob.model_dump_json()),
            AfterCommit(lambda: _announced(effect)),
        ]

    def _rearmed(self, effect: Rearmed) -> list[Output]:
        """The fired marker deleted and the re-arm recorded, in the delivery's commit."""
        dataset = effect.key.dataset
        fired = self.reader.own.fired(effect.promotion_id, effect.kind, dataset)
        record = self.reader.own.rearmed(effect.promotion_id, effect.kind, dataset)
        value = rearm_json(effect.rearm)
        return [
            RedisWrite(lambda pipe: pipe.delete(fired)),
            _set(record, value),
            AfterCommit(lambda: _rearmed_applied(effect)),
        ]

    def _ignored(self, effect: Ignore, stream: Stream[Any]) -> Callable[[], None]:
        def apply() -> None:
            metrics.IGNORED_ROWS.labels(
                dataset=effect.key.dataset, stream=stream.name, reason=effect.reason
            ).inc(effect.rows)
            once = (effect.key, effect.reason)
            if once in self._logged_ignores or effect.reason == "role":
                return
            if len(self._logged_ignores) >= REMEMBERED_IGNORES:
                self._logged_ignores.clear()
            self._logged_ignores.add(once)
            # labels of a version no longer watched are routine; a served version that cannot
            # be watched is not
            say = log.info if effect.reason == "not_watched" else log.warning
            say(
                "version not monitored",
                dataset=effect.key.dataset,
                version=effect.key.version,
                reason=effect.reason,
                detail=effect.detail,
                stream=stream.name,
            )

        return apply

    def _install(self, effect: Install, seq: int) -> Callable[[], None]:
        def apply() -> None:
            for key, watch in effect.watches.items():
                before = self.watches.get(key)
                if before is None or before.promotion.event_id != watch.promotion.event_id:
                    log.info("watching", version=str(key), promotion=str(watch.promotion.event_id))
                self.watches[key] = watch
                metrics.export(watch)
            for key in effect.evict:
                if (gone := self.watches.pop(key, None)) is not None:
                    metrics.forget(gone)
                    log.info("watch evicted", version=str(key))
            metrics.WATCHES.set(len(self.watches))
            self._seq = max(self._seq, seq)

        return apply

    # --------------------------------------------------------------------- reads

    def status(self, dataset: str | None = None) -> MonitorStatus:
        return monitor_status(self.watches, dataset)

    async def report(self, event_id: str) -> bytes:
        """A drift event's HTML report; only ever a blob this monitor stored as a report."""
        why: str | None = None
        try:
            blob = await self.reader.report_blob(event_id)
        except ValidationError:
            blob, why = None, "its link in Redis is not a BlobRef"
        else:
            if blob is not None and not is_report(blob):
                why = f"its link points at {blob.key}"
        if why is not None:
            metrics.REPORTS_REFUSED.inc()
            log.warning("report refused", drift_event_id=event_id, reason=why)
            raise NotFound(f"no drift report for event {event_id}: {why}, not at a report")
        if blob is None:
            raise NotFound(f"no drift report for event {event_id}")
        return await asyncio.to_thread(self.store.get, blob)


#: Where the monitor stores reports: ``ContentStore.put(kind="reports/<dataset>", ".html")``.
REPORT_KEY = re.compile(r"reports/[a-z0-9][a-z0-9_-]{0,62}/[0-9a-f]{2}/([0-9a-f]{64})\.html")


def is_report(blob: BlobRef) -> bool:
    """Whether a blob is one the monitor stored as a report (a forged link may name any)."""
    found = REPORT_KEY.fullmatch(blob.key)
    return found is not None and found.group(1) == blob.sha256


def _set(key: str, value: str) -> RedisWrite:
    return RedisWrite(lambda pipe: pipe.set(key, value))


def _announced(effect: Announce) -> None:
    event = effect.event
    metrics.DRIFT_EVENTS.labels(dataset=event.dataset, kind=event.kind).inc()
    log.warning(
        "drift detected",
        kind=event.kind,
        drift_event_id=str(event.event_id),
        dataset=event.dataset,
        version=event.model_version,
        drifted=[e.feature for e in event.evidence if e.drifted],
    )


def _rearmed_applied(effect: Rearmed) -> None:
    metrics.REARMED.labels(dataset=effect.key.dataset, kind=effect.kind).inc()
    log.info(
        "drift kind re-armed: the trainer found the champion holds",
        kind=effect.kind,
        version=str(effect.key),
        rearms=effect.rearm.count,
        baseline=effect.rearm.baseline,
        drift_event_id=str(effect.skip.drift_id),
        skip=effect.skip.message,
    )
