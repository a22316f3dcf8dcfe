"""Thin stream handlers: decode is done by the consumer, logic is in service.py."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from driftloop_bus import Output, Publish
from driftloop_contracts import (
    DataIngested,
    DataRejected,
    Event,
    FeedbackReceived,
    PredictionsLogged,
    RecordsSubmitted,
    RejectedRow,
    streams,
)
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore, NotFound

from .join import JoinedLabel, LabelJoin, records_of
from .service import (
    Candidate,
    DatasetVersion,
    Schemas,
    candidate_from_record,
    validate,
    write_version,
)

PRODUCER = "ingest"


def ingested_event(version: DatasetVersion, source: str, cause: Event | None) -> DataIngested:
    fields: dict[str, Any] = {
        "dataset": version.dataset,
        "version": version.version,
        "blob": version.blob,
        "rows": version.rows,
        "source": source,
        "observed_from": version.observed_from,
        "observed_to": version.observed_to,
        "dataset_schema": version.schema,
    }
    if cause is None:
        return DataIngested(producer=PRODUCER, **fields)
    return DataIngested.caused_by(cause, version.version, PRODUCER, **fields)


def rejected_event(
    dataset: str, source: str, rows: list[RejectedRow], cause: Event | None
) -> DataRejected:
    fields: dict[str, Any] = {"dataset": dataset, "source": source, "rejected": rows}
    if cause is None:
        return DataRejected(producer=PRODUCER, **fields)
    return DataRejected.caused_by(cause, f"{dataset}/{source}", PRODUCER, **fields)


class IngestHandlers:
    def __init__(self, store: ContentStore, schemas: Schemas, join: LabelJoin) -> None:
        self.store = store
        self.schemas = schemas
        self.join = join

    async def on_records(self, events: Sequence[RecordsSubmitted]) -> list[Output]:
        """One dataset version per dataset per delivery; rejects reported per event."""
        by_dataset: dict[str, list[RecordsSubmitted]] = defaultdict(list)
        for event in events:
            by_dataset[event.dataset].append(event)
        out: list[Output] = []
        for dataset, group in by_dataset.items():
            out += await self._ingest_group(dataset, group)
        return out

    async def _ingest_group(self, dataset: str, group: list[RecordsSubmitted]) -> list[Output]:
        out: list[Output] = []
        try:
            schema = self.schemas.get(dataset)
        except NotFound as exc:
            for event in group:
                rows = [
                    RejectedRow(
                        index=i, row={"features": r.features, "label": r.label}, reason=exc.message
                    )
                    for i, r in enumerate(event.records)
                ]
                out.append(
                    Publish(streams.DATA_REJECTED, rejected_event(dataset, "stream", rows, event))
                )
            return out
        good: list[LabelledRow] = []
        for event in group:
            valid, bad = validate(schema, [candidate_from_record(r) for r in event.records])
            good += valid
            if bad:
                out.append(
                    Publish(streams.DATA_REJECTED, rejected_event(dataset, "stream", bad, event))
                )
        if good:
            version = await asyncio.to_thread(write_version, self.store, schema, good)
            out.append(Publish(streams.DATA_INGESTED, ingested_event(version, "records", group[0])))
        return out

    async def on_predictions(self, events: Sequence[PredictionsLogged]) -> list[Output]:
        joined: list[tuple[Event, JoinedLabel]] = []
        for event in events:
            if event.role == "shadow":
                continue  # never answered: nothing to join a label to
            pairs = await self.join.add_predictions(
                event.dataset, event.model_version, records_of(event), event.event_id
            )
            joined += [(event, p) for p in pairs]
        return await self._ingest_joined(joined)

    async def on_feedback(self, events: Sequence[FeedbackReceived]) -> list[Output]:
        joined: list[tuple[Event, JoinedLabel]] = []
        for event in events:
            joined += [(event, p) for p in await self.join.add_labels(event.labels, event.event_id)]
        return await self._ingest_joined(joined)

    async def _ingest_joined(self, joined: list[tuple[Event, JoinedLabel]]) -> list[Output]:
        """Predictions joined with their labels become labelled rows of their dataset."""
        by_dataset: dict[str, list[tuple[Event, JoinedLabel]]] = defaultdict(list)
        for cause, pair in joined:
            by_dataset[pair.dataset].append((cause, pair))
        out: list[Output] = []
        for dataset, pairs in by_dataset.items():
            cause = pairs[0][0]
            try:
                schema = self.schemas.get(dataset)
            except NotFound:
                continue  # predictions of a dataset ingest does not manage: nothing to build
            candidates = [
                Candidate(p.prediction.features, p.label, p.prediction.predicted_at)
                for _, p in pairs
            ]
            good, bad = validate(schema, candidates)
            if bad:
                out.append(
                    Publish(streams.DATA_REJECTED, rejected_event(dataset, "feedback", bad, cause))
                )
            if good:
                version = await asyncio.to_thread(write_version, self.store, schema, good)
                out.append(
                    Publish(streams.DATA_INGESTED, ingested_event(version, "feedback", cause))
                )
        return out
