"""The adapter for models trained elsewhere: read the dataset's schema and newest rows, let
external.py check and evaluate the file, store it as a driftloop artifact and publish it as a
training.completed (trigger "external"). The registry then judges it like any candidate."""

from __future__ import annotations

import asyncio
import uuid

from driftloop_bus import Bus, Publish
from driftloop_contracts import Metrics, TrainingCompleted, derived_id, streams
from driftloop_core import ContentStore, NotFound, NotReady
from driftloop_core.signing import Signer
from driftloop_core.telemetry import get_logger
from pydantic import BaseModel, Field

from . import external
from .effects import PRODUCER
from .repository import Repository
from .rows import RowLoader
from .runs import stored_run
from .training import TrainingConfig

log = get_logger(__name__)


class ExternalOut(BaseModel):
    """An uploaded model, accepted as a candidate: the registry's gate decides next."""

    dataset: str
    run_id: uuid.UUID = Field(description="The run id the registry registers the model under.")
    event_id: uuid.UUID = Field(description="The training.completed event published.")
    file_sha256: str
    metrics: Metrics = Field(description="On the dataset's newest rows (the holdout).")
    follow: str = Field(description="Where the gate's decision shows up.")


class ExternalModels:
    def __init__(
        self,
        bus: Bus,
        repo: Repository,
        rows: RowLoader,
        store: ContentStore,
        config: TrainingConfig,
        max_rows: int,
        files: external.FilePolicy | None = None,
        *,
        signer: Signer,
    ) -> None:
        #: An uploaded model, once admitted, is signed like a trained one.
        self.signer = signer
        self.bus = bus
        self.repo = repo
        self.rows = rows
        self.store = store
        self.config = config
        self.max_rows = max_rows
        self.files = files or external.FilePolicy()

    async def register(
        self, dataset: str, data: bytes, uploaded_by: str, filename: str | None
    ) -> ExternalOut:
        schema = (await self.repo.load(dataset)).schema
        if schema is None:
            raise NotFound(
                f"the trainer has no rows of dataset {dataset!r}: ingest labelled rows first, "
                "the model is evaluated on the newest of them"
            )
        file = await asyncio.to_thread(external.read, data, schema, self.files)
        loaded = await self.rows.load(
            self.repo.newest_first(dataset, None, schema), None, self.max_rows
        )
        lineage = external.lineage(data, file, uploaded_by, filename)
        trained = await asyncio.to_thread(
            external.candidate, file, schema, loaded.rows, self.config, lineage
        )
        fields = await asyncio.to_thread(
            stored_run, self.store, trained, loaded.versions, self.config.seed
        )
        event_id = uuid.uuid4()
        event = self.signer.sign(
            TrainingCompleted(
                event_id=event_id,
                producer=PRODUCER,
                run_id=derived_id(event_id, "run", "external"),
                trigger="external",
                **fields,
            )
        )
        try:
            await self.bus.publish(Publish(streams.TRAINING_COMPLETED, event))
        except Exception as exc:
            raise NotReady(f"could not publish the candidate, nothing changed: {exc}") from exc
        log.info("external model submitted", dataset=dataset, run_id=str(event.run_id), **lineage)
        return ExternalOut(
            dataset=dataset,
            run_id=event.run_id,
            event_id=event.event_id,
            file_sha256=lineage["file_sha256"],
            metrics=event.metrics,
            follow=f"GET /v1/models?dataset={dataset} on the registry: the version with "
            f"run_id {event.run_id} and its decision",
        )
