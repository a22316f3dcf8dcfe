"""The monitor's state for the model serving now, and turning findings into drift events.

Windows live in memory per replica (a restart starts them afresh); what must not repeat, the
once-per-promotion-and-kind cooldown, lives in Redis and is committed with the event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_bus import Output, Publish, RedisWrite
from driftloop_contracts import (
    DriftDetected,
    FeedbackReceived,
    ModelPromoted,
    PredictionsLogged,
    ReferenceProfile,
    WindowRef,
    derived_id,
    streams,
)
from driftloop_core import ContentStore
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis

from .detectors import DriftConfig, Finding, PerformanceDetector, WindowDetector
from .join import JoinedLabel, LabelJoin, records_of
from .report import render
from .settings import MonitorSettings

PRODUCER = "drift-monitor"
DRIFT_SCORE = Gauge(
    "driftloop_drift_score", "Test statistic of the last window, per feature.", ["feature", "test"]
)
DRIFT_P_VALUE = Gauge(
    "driftloop_drift_p_value", "p-value of the last window, per feature.", ["feature"]
)
LIVE_ACCURACY = Gauge("driftloop_live_accuracy", "Accuracy over the most recent joined labels.")
DRIFT_EVENTS = Counter("driftloop_drift_events_total", "drift.detected events published.", ["kind"])
log = get_logger(__name__)


@dataclass
class Watch:
    """Everything the monitor knows about the model serving now."""

    promoted: ModelPromoted
    profile: ReferenceProfile
    windows: WindowDetector
    performance: PerformanceDetector
    fired: set[str]


def _remember(key: str, value: str) -> RedisWrite:
    """Committed with the drift event: the cooldown holds exactly when the event went out."""
    return RedisWrite(lambda pipe: pipe.set(key, value))


class MonitorService:
    def __init__(
        self, settings: MonitorSettings, redis: Redis, join: LabelJoin, store: ContentStore
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.join = join
        self.store = store
        self.watch: Watch | None = None
        self.config = DriftConfig(
            window_size=settings.window_size,
            window_step=settings.window_step,
            alpha=settings.alpha,
            consecutive=settings.consecutive_windows,
            alpha_strict=settings.alpha_strict,
            min_effect_numeric=settings.min_effect_numeric,
            min_effect_categorical=settings.min_effect_categorical,
        )

    def report_key(self, event_id: str) -> str:
        return f"{self.settings.namespace}{PRODUCER}:report:{event_id}"

    def _fired_key(self, promoted: ModelPromoted, kind: str) -> str:
        return f"{self.settings.namespace}{PRODUCER}:fired:{promoted.event_id}:{kind}"

    def watch_model(self, promoted: ModelPromoted, profile: ReferenceProfile) -> None:
        s = self.settings
        self.watch = Watch(
            promoted=promoted,
            profile=profile,
            windows=WindowDetector(profile, self.config),
            performance=PerformanceDetector(
                promoted.metrics.accuracy,
                window=s.label_window,
                min_labels=s.min_labels,
                max_drop=s.max_accuracy_drop,
                adwin_delta=s.adwin_delta,
                min_error_increase=s.min_error_increase,
            ),
            fired=set(),
        )
        log.info("watching", version=promoted.model_version, baseline=promoted.metrics.accuracy)

    async def on_predictions(self, events: Sequence[PredictionsLogged]) -> list[Output]:
        findings: list[Finding] = []
        joined: list[JoinedLabel] = []
        for event in events:
            if event.role == "shadow":
                continue  # never answered: not what the served model sees
            records = records_of(event)
            joined += await self.join.add_predictions(
                event.dataset, event.model_version, records, event.event_id
            )
            watch = self.watch
            if (
                watch
                and event.model_version == watch.promoted.model_version
                and event.dataset == watch.promoted.dataset
            ):
                for p in records:
                    findings += watch.windows.add(p.features, str(p.prediction), p.predicted_at)
        findings += self._outcomes(joined)
        self._export()
        return await self._announce(findings)

    async def on_feedback(self, events: Sequence[FeedbackReceived]) -> list[Output]:
        joined: list[JoinedLabel] = []
        for event in events:
            joined += await self.join.add_labels(event.labels, event.event_id)
        findings = self._outcomes(joined)
        self._export()
        return await self._announce(findings)

    def _outcomes(self, joined: list[JoinedLabel]) -> list[Finding]:
        watch = self.watch
        findings: list[Finding] = []
        if watch is None:
            return findings
        for pair in joined:
            if (
                pair.model_version == watch.promoted.model_version
                and pair.dataset == watch.promoted.dataset
            ):
                correct = pair.prediction.prediction == pair.label
                findings += watch.performance.add(correct, pair.prediction.predicted_at)
        return findings

    async def _announce(self, findings: list[Finding]) -> list[Output]:
        watch = self.watch
        out: list[Output] = []
        if watch is None:
            return out
        for finding in findings:
            if finding.kind in watch.fired:
                continue
            watch.fired.add(finding.kind)  # before any await: concurrent handlers see it
            key = self._fired_key(watch.promoted, finding.kind)
            if await self.redis.exists(key):
                continue
            event = self._event(watch.promoted, finding)
            DRIFT_EVENTS.labels(kind=finding.kind).inc()
            log.warning(
                "drift detected",
                kind=finding.kind,
                drift_event_id=str(event.event_id),
                version=event.model_version,
                drifted=[e.feature for e in finding.evidence if e.drifted],
            )
            report = await asyncio.to_thread(
                self.store.put,
                render(event, finding, watch.profile).encode(),
                kind=f"reports/{event.dataset}",
                suffix=".html",
            )
            out.append(Publish(streams.DRIFT_DETECTED, event))
            out.append(_remember(key, str(event.event_id)))
            out.append(_remember(self.report_key(str(event.event_id)), report.model_dump_json()))
        return out

    def _event(self, promoted: ModelPromoted, finding: Finding) -> DriftDetected:
        event_id = derived_id("drift", promoted.event_id, finding.kind)
        return DriftDetected(
            event_id=event_id,
            report_url=f"{self.settings.public_url.rstrip('/')}/v1/reports/{event_id}",
            producer=PRODUCER,
            dataset=promoted.dataset,
            model_version=promoted.model_version,
            kind=finding.kind,
            window=WindowRef(start=finding.start, end=finding.end, rows=finding.rows),
            evidence=finding.evidence,
        )

    def _export(self) -> None:
        watch = self.watch
        if watch is None:
            return
        for evidence in watch.windows.last.get("data", ()):
            DRIFT_SCORE.labels(feature=evidence.feature, test=evidence.test).set(evidence.statistic)
            if evidence.p_value is not None:
                DRIFT_P_VALUE.labels(feature=evidence.feature).set(evidence.p_value)
        if (accuracy := watch.performance.accuracy) is not None:
            LIVE_ACCURACY.set(accuracy)

    def status(self) -> dict[str, Any]:
        watch = self.watch
        if watch is None:
            return {"model_version": None, "watching": False}
        return {
            "watching": True,
            "dataset": watch.promoted.dataset,
            "model_version": watch.promoted.model_version,
            "window_size": watch.windows.window_size,
            "window_step": self.config.step,
            "windows_tested": watch.windows.windows_tested,
            "window_filling": watch.windows.filling,
            "threshold_per_feature": watch.windows.threshold,
            "strict_threshold_per_feature": watch.windows.strict,
            "last_window": {
                kind: [e.model_dump() for e in evidence]
                for kind, evidence in watch.windows.last.items()
            },
            "performance": {
                "baseline_accuracy": watch.performance.baseline,
                "live_accuracy": watch.performance.accuracy,
                "labels": watch.performance.labels,
                "adwin_error_after_last_change": watch.performance.adwin_error,
            },
            "fired": sorted(watch.fired),
        }
