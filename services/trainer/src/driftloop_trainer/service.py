"""When to train and on which rows; running a training and describing its outcome as events.

The decisions (initial model, retrain after drift, training on request) are here; the fitting
itself is in training.py; the stream handlers in handlers.py only route events to this class.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime
from typing import Any

from driftloop_bus import Output, Publish, RedisWrite
from driftloop_contracts import (
    BlobRef,
    DataIngested,
    DatasetSchema,
    DriftDetected,
    Event,
    TrainingCompleted,
    TrainingFailed,
    TrainingTrigger,
    derived_id,
    streams,
)
from driftloop_contracts.datasets import LabelledRow, dumps, loads
from driftloop_core import ContentStore, DriftloopError
from driftloop_core.telemetry import get_logger
from driftloop_ml import ModelArtifact, dump_artifact

from .catalogue import Catalogue, PendingRetrain
from .settings import TrainerSettings
from .training import TrainedModel, TrainingConfig, TrainingError, library_versions, train

PRODUCER = "trainer"
MAX_RETRAIN_FAILURES = 3
log = get_logger(__name__)


def completed_event(
    store: ContentStore,
    cause: Event,
    key: str,
    trigger: TrainingTrigger,
    trained: TrainedModel,
    versions: list[str],
    seed: int,
) -> TrainingCompleted:
    """Write the run's artifact, profile and holdout to the store; describe them as an event."""
    schema, dataset = trained.schema, trained.schema.name
    versions_info = library_versions()
    artifact = ModelArtifact(trained.pipeline, schema, trained.classes, versions_info)
    return TrainingCompleted.caused_by(
        cause,
        key,
        PRODUCER,
        run_id=derived_id(cause.event_id, "run", key),
        dataset=dataset,
        trigger=trigger,
        artifact=store.put(dump_artifact(artifact), kind=f"models/{dataset}", suffix=".pkl"),
        profile=store.put(
            trained.profile.model_dump_json().encode(), kind=f"profiles/{dataset}", suffix=".json"
        ),
        holdout=store.put(dumps(trained.holdout), kind=f"holdouts/{dataset}", suffix=".jsonl"),
        metrics=trained.metrics,
        params=trained.params,
        seed=seed,
        library_versions=versions_info,
        dataset_versions=tuple(versions),
        training_rows=trained.training_rows,
        dataset_schema=schema,
    )


class RowLoader:
    """Reads dataset versions from the store (sha256 verified), caching the parsed rows."""

    def __init__(self, store: ContentStore, catalogue: Catalogue, cache_size: int = 256) -> None:
        self.store = store
        self.catalogue = catalogue
        self._cache: OrderedDict[str, list[LabelledRow]] = OrderedDict()
        self._cache_size = cache_size

    async def read(self, blob: BlobRef) -> list[LabelledRow]:
        """The rows of one version, read once (sha256 verified) and then cached."""
        part = self._cache.get(blob.sha256)
        if part is None:
            part = loads(await asyncio.to_thread(self.store.get, blob))
            self._cache[blob.sha256] = part
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return part

    async def load(
        self, dataset: str, schema: DatasetSchema, since: datetime | None, max_rows: int
    ) -> tuple[list[LabelledRow], list[str]]:
        """The newest `max_rows` rows observed at or after `since`, and their versions."""
        fingerprint = schema.fingerprint()
        entries = [
            e
            for e in await self.catalogue.versions(dataset, since)
            if e.schema_fingerprint == fingerprint
        ]
        rows: list[LabelledRow] = []
        used: list[str] = []
        for entry in entries:
            try:
                part = await self.read(entry.blob)
            except DriftloopError as exc:  # removed from the store since: train without it
                log.warning(
                    "dataset version unreadable, skipped", version=entry.version, error=exc.message
                )
                continue
            kept = [r for r in part if since is None or r.observed_at >= since]
            if kept:
                rows += kept
                used.append(entry.version)
        rows.sort(key=lambda r: r.observed_at)
        return rows[-max_rows:], used


class TrainerService:
    def __init__(
        self, settings: TrainerSettings, store: ContentStore, catalogue: Catalogue
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalogue = catalogue
        self.rows = RowLoader(store, catalogue)
        self.config = TrainingConfig(
            family=settings.model_family,
            holdout_fraction=settings.holdout_fraction,
            cv_folds=settings.cv_folds,
            seed=settings.seed,
        )

    # ------------------------------------------------------------------ triggers

    async def on_data(self, event: DataIngested) -> list[Output]:
        # Read it now: a version whose blob cannot be read never enters the catalogue (the
        # event is retried, then dead-lettered with the reason).
        await self.rows.read(event.blob)
        await self.catalogue.add(event)
        dataset = event.dataset
        schema = event.dataset_schema
        claimant = str(event.event_id)
        if await self._initial_due(dataset, schema, claimant):
            outputs = await self.run(dataset, schema, None, "initial", event, "initial")
            if any(isinstance(o, Publish) and isinstance(o.event, TrainingFailed) for o in outputs):
                outputs.append(RedisWrite(self.catalogue.release(dataset, "initial")))
            return outputs
        pending = await self.catalogue.pending(dataset)
        return await self._retrain_if_ready(pending, claimant) if pending else []

    async def on_drift(self, event: DriftDetected) -> list[Output]:
        """Every drift kind in TRAINER_RETRAIN_ON starts a pending retrain on post-onset rows;
        the registry gate decides whether the result serves (a covariate shift that does not
        hurt accuracy yields a candidate no better than the champion, which is rejected)."""
        if event.kind not in self.settings.retrain_on:
            log.info("drift kind not retrained on", kind=event.kind)
            return []
        if await self.catalogue.retrained_for(event.dataset, event.model_version):
            log.info(
                "drift of a model already retrained; nothing to do",
                kind=event.kind,
                version=event.model_version,
            )
            return []
        pending = await self.catalogue.pending(event.dataset)
        if pending is None or pending.followup:  # a new drift outranks follow-ups of an old one
            pending = PendingRetrain(
                drift=event,
                min_rows=self.settings.min_post_drift_rows,
                followups_left=self.settings.followup_retrains,
            )
            await self.catalogue.set_pending(pending)
            log.info("retrain pending", onset=str(pending.onset), needs=pending.min_rows)
        elif pending.drift.event_id != event.event_id:
            log.info(
                "drift noted, a retrain is already pending", pending=str(pending.drift.event_id)
            )
            return []
        return await self._retrain_if_ready(pending, str(event.event_id))

    async def on_request(self, event: Any) -> list[Output]:
        schema = await self.catalogue.schema(event.dataset)
        if schema is None:
            return [
                self._failed(
                    event,
                    event.dataset,
                    "requested",
                    "requested",
                    f"no data ingested for dataset {event.dataset!r} yet",
                )
            ]
        return await self.run(event.dataset, schema, event.since, "requested", event, "requested")

    async def _initial_due(self, dataset: str, schema: DatasetSchema, claimant: str) -> bool:
        entries = await self.catalogue.versions(dataset)
        fingerprint = schema.fingerprint()
        rows = sum(e.rows for e in entries if e.schema_fingerprint == fingerprint)
        if rows < self.settings.min_initial_rows:
            return False
        return await self.catalogue.claim(dataset, "initial", claimant)

    async def _retrain_if_ready(self, pending: PendingRetrain, claimant: str) -> list[Output]:
        drift = pending.drift
        schema = await self.catalogue.schema(drift.dataset)
        if schema is None:
            return []
        rows, _ = await self.rows.load(drift.dataset, schema, pending.onset, self.settings.max_rows)
        if len(rows) < pending.min_rows:
            log.info("waiting for post-drift rows", have=len(rows), need=pending.min_rows)
            return []
        trigger_key = f"drift-{drift.event_id}-{pending.followup}"
        if not await self.catalogue.claim(drift.dataset, trigger_key, claimant):
            return []
        key = f"retrain/{pending.followup}/{pending.failures}"
        outputs = await self.run(drift.dataset, schema, pending.onset, "drift", drift, key)
        failed = any(
            isinstance(o, Publish) and isinstance(o.event, TrainingFailed) for o in outputs
        )
        follow: PendingRetrain | None = None
        if failed and pending.failures + 1 < MAX_RETRAIN_FAILURES:
            more = self.settings.min_post_drift_rows // 2
            follow = pending.model_copy(
                update={"failures": pending.failures + 1, "min_rows": len(rows) + more}
            )
            outputs.append(RedisWrite(self.catalogue.release(drift.dataset, trigger_key)))
        elif not failed and pending.followups_left > 0:
            follow = pending.model_copy(
                update={
                    "followup": pending.followup + 1,
                    "followups_left": pending.followups_left - 1,
                    "min_rows": 2 * len(rows),
                    "failures": 0,
                }
            )
        outputs.append(RedisWrite(self.catalogue.write_pending(follow, drift.dataset)))
        if not failed:
            outputs.append(
                RedisWrite(self.catalogue.mark_retrained(drift.dataset, drift.model_version))
            )
        return outputs

    # ------------------------------------------------------------------- training

    async def run(
        self,
        dataset: str,
        schema: DatasetSchema,
        since: datetime | None,
        trigger: TrainingTrigger,
        cause: Event,
        key: str,
    ) -> list[Output]:
        rows, versions = await self.rows.load(dataset, schema, since, self.settings.max_rows)
        log.info("training", dataset=dataset, trigger=trigger, rows=len(rows), since=str(since))
        try:
            trained = await asyncio.to_thread(train, schema, rows, self.config)
        except TrainingError as exc:
            log.warning("training failed", reason=str(exc))
            return [self._failed(cause, dataset, trigger, key, str(exc))]
        completed = await asyncio.to_thread(
            completed_event, self.store, cause, key, trigger, trained, versions, self.config.seed
        )
        log.info("trained", accuracy=completed.metrics.accuracy, params=completed.params)
        return [Publish(streams.TRAINING_COMPLETED, completed)]

    @staticmethod
    def _failed(
        cause: Event, dataset: str, trigger: TrainingTrigger, key: str, reason: str
    ) -> Publish:
        event = TrainingFailed.caused_by(
            cause,
            key,
            PRODUCER,
            run_id=derived_id(cause.event_id, "run", key),
            dataset=dataset,
            trigger=trigger,
            reason=reason,
        )
        return Publish(streams.TRAINING_FAILED, event)
