"""Training runs asked for over HTTP (`POST /v1/datasets/{dataset}/train`, admin): the route
publishes a training.requested event, which the trainer's own consumer then handles through
the policy like any other request (policy.on_request). The run id is known at once: it is
derived from the request's event id, as every run's is from its cause."""

from __future__ import annotations

import uuid

from driftloop_bus import Bus, Publish
from driftloop_contracts import TrainingRequested, derived_id, streams
from driftloop_core import NotFound, NotReady
from pydantic import BaseModel, Field

from .repository import Repository

PRODUCER = "trainer"
#: The key of a requested run (policy.on_request): its run id is derived with it.
REQUESTED = "requested"


class TrainingAccepted(BaseModel):
    dataset: str
    run_id: uuid.UUID = Field(
        description="The run's id; the registry registers its model under it."
    )
    event_id: uuid.UUID = Field(description="The training.requested event published.")
    follow: str = Field(description="Where to read the outcome.")


class TrainingRequests:
    def __init__(self, bus: Bus, repo: Repository) -> None:
        self.bus = bus
        self.repo = repo

    async def request(self, dataset: str, reason: str) -> TrainingAccepted:
        state = await self.repo.load(dataset)
        if state.schema is None:
            raise NotFound(
                f"the trainer has no rows of dataset {dataset!r}: publish labelled rows first "
                "(`driftloop publish FILE.csv --dataset NAME`)"
            )
        event = TrainingRequested(producer=PRODUCER, dataset=dataset, reason=reason)
        try:
            await self.bus.publish(Publish(streams.TRAINING_REQUESTED, event))
        except Exception as exc:
            raise NotReady(f"could not request the run, nothing changed: {exc}") from exc
        run_id = derived_id(event.event_id, "run", REQUESTED)
        return TrainingAccepted(
            dataset=dataset,
            run_id=run_id,
            event_id=event.event_id,
            follow=f"GET /v1/models?dataset={dataset} on the registry: the version with run_id "
            f"{run_id} and its decision (a failed run: training.failed.v1)",
        )
