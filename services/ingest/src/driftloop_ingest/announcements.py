"""The events ingest publishes, built from what it decided."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftloop_contracts import (
    DataIngested,
    DataRejected,
    Event,
    Outcome,
    RejectedRow,
    derived_id,
)
from driftloop_contracts.columnar import labelled_body

from .join import Pair
from .versions import DatasetVersion

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
    dataset: str, source: str, rows: Sequence[RejectedRow], cause: Event | None
) -> DataRejected:
    fields: dict[str, Any] = {"dataset": dataset, "source": source, "rejected": tuple(rows)}
    if cause is None:
        return DataRejected(producer=PRODUCER, **fields)
    return DataRejected.caused_by(cause, f"{dataset}/{source}", PRODUCER, **fields)


def labelled_event_body(
    dataset: str,
    model_version: int,
    role: str,
    pairs: Sequence[Pair],
    numeric: bool = False,
) -> bytes:
    """A prediction.labelled body for pairs of one (dataset, model version, role), its id
    derived from the event that claimed the first pair, so a retry emits the same event.
    `numeric` (a regression dataset): labels and predictions as floats."""
    labels: list[str] | list[float] = [p.label.label for p in pairs]
    predictions: list[Outcome] = [p.prediction.prediction for p in pairs]
    if numeric:
        labels = [float(p.label.label) for p in pairs]
        predictions = [float(p.prediction.prediction) for p in pairs]
    cause = pairs[0].cause
    key = f"{dataset}/{model_version}/{role}"
    return labelled_body(
        producer=PRODUCER,
        dataset=dataset,
        model_version=model_version,
        role=role,
        prediction_ids=[p.prediction_id for p in pairs],
        predictions=predictions,
        labels=labels,
        predicted_at_ms=[p.prediction.predicted_at_ms for p in pairs],
        labelled_at_ms=[p.label.labelled_at_ms for p in pairs],
        event_id=str(derived_id(cause.event_id, "prediction.labelled", key)),
        correlation_id=str(cause.chain_id),
        causation_id=str(cause.event_id),
    )
