"""Building realistic test data: labelled rows from the demo scenario, stored dataset versions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from driftloop_contracts import (
    DataIngested,
    Event,
    ModelPromoted,
    RolloutChanged,
    TrainingCompleted,
    TrainingRequested,
    utcnow,
)
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_ingest.service import write_version
from driftloop_sdk.scenario import SCHEMA, CreditScenario, Phase
from driftloop_trainer.runs import completed_event
from driftloop_trainer.training import TrainingConfig, train

from .signing import signed


def labelled_rows(
    n: int,
    phase: Phase = "before",
    *,
    start: datetime | None = None,
    seed: int = 3,
    label: str | None = None,
) -> list[LabelledRow]:
    start = start or utcnow()
    drawn = CreditScenario(seed).draw(n, phase)
    return [
        LabelledRow(f, label or y, start + timedelta(milliseconds=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def ingested(store: ContentStore, rows: list[LabelledRow], source: str = "records") -> DataIngested:
    """A data.ingested event for rows written to the store, as ingest would publish it."""
    version = write_version(store, SCHEMA, rows)
    return DataIngested(
        producer="test",
        dataset=version.dataset,
        version=version.version,
        blob=version.blob,
        rows=version.rows,
        source=source,
        observed_from=version.observed_from,  # type: ignore[arg-type]
        observed_to=version.observed_to,
        dataset_schema=SCHEMA,
    )


def trained(
    store: ContentStore,
    rows: list[LabelledRow],
    *,
    trigger: str = "initial",
    cause: Event | None = None,
) -> TrainingCompleted:
    """A real training.completed: a small model fitted on `rows`, its blobs in `store`."""
    cause = cause or TrainingRequested(producer="test", dataset=SCHEMA.name)
    model = train(SCHEMA, rows, TrainingConfig())
    run = completed_event(store, cause, "test", trigger, model, ["v-test"], 42)  # type: ignore[arg-type]
    return signed(run)  # as the trainer publishes it


def promoted(run: TrainingCompleted, version: int = 1, **changes: Any) -> ModelPromoted:
    """A model.promoted of a trained run, as the registry would publish it."""
    event = ModelPromoted(
        producer="test",
        dataset=run.dataset,
        model_version=version,
        previous_version=None,
        reason="gate",
        artifact=run.artifact,
        profile=run.profile,
        metrics=run.metrics,
        dataset_schema=run.dataset_schema,
    )
    return event.model_copy(update=changes)


def rollout(
    run: TrainingCompleted, version: int, dataset: str | None = None, **changes: Any
) -> RolloutChanged:
    """A model.rollout starting a canary of a trained run, as the registry would publish it."""
    event = RolloutChanged(
        producer="test",
        dataset=dataset or run.dataset,
        stage="canary",
        outcome="started",
        model_version=version,
        share=0.5,
        artifact=run.artifact,
        profile=run.profile,
        metrics=run.metrics,
        dataset_schema=run.dataset_schema,
    )
    return event.model_copy(update=changes)
