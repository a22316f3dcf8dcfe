"""HTTP: register a dataset (new schema, additive evolution, training and monitoring settings)
and read the registered ones, from this replica's live state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from driftloop_contracts import DatasetRegistered, DatasetSchema, TrainingSpec
from driftloop_core.httperrors import ErrorOut
from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from .registrar import Registrar
from .registration import RegistrationIn
from .service import Schemas


class DatasetOut(BaseModel):
    """A dataset's registration as ingest holds it."""

    model_config = ConfigDict(populate_by_name=True)

    dataset: str
    version: int = Field(description="The schema version (each additive evolution adds one).")
    dataset_schema: DatasetSchema = Field(alias="schema")
    training: TrainingSpec | None
    monitoring: dict[str, float | int | str | bool]
    registered_at: datetime
    published: bool = Field(
        default=False, description="Whether this request published a dataset.registered event."
    )

    @classmethod
    def of(cls, event: DatasetRegistered, published: bool = False) -> DatasetOut:
        return cls(
            dataset=event.dataset,
            version=event.dataset_schema.version,
            dataset_schema=event.dataset_schema,
            training=event.training,
            monitoring=event.monitoring,
            registered_at=event.occurred_at,
            published=published,
        )


async def _schemas(request: Request) -> Schemas:
    return cast(Schemas, request.app.state.schemas)


async def _registrar(request: Request) -> Registrar:
    return cast(Registrar, request.app.state.registrar)


SchemasDep = Annotated[Schemas, Depends(_schemas)]
RegistrarDep = Annotated[Registrar, Depends(_registrar)]
REFUSED: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {"model": DatasetOut, "description": "Already registered so: nothing."},
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Not an additive evolution of the registered schema; the message says why.",
    },
}
router = APIRouter(prefix="/v1", tags=["datasets"])


@router.post(
    "/datasets",
    status_code=status.HTTP_201_CREATED,
    responses=REFUSED,
    summary="Register a dataset, or evolve its schema (features added at the end, with a default)",
)
async def register_dataset(
    body: RegistrationIn, registrar: RegistrarDep, response: Response
) -> DatasetOut:
    registered = await registrar.register(body)
    if not registered.published:
        response.status_code = status.HTTP_200_OK
    return DatasetOut.of(registered.registration, registered.published)


@router.get("/datasets", summary="Every registered dataset, with its schema version")
async def list_datasets(schemas: SchemasDep) -> list[DatasetOut]:
    return [DatasetOut.of(r) for r in schemas.registrations()]


@router.get("/datasets/{dataset}", summary="One dataset's registration")
async def get_dataset(dataset: DatasetPath, schemas: SchemasDep) -> DatasetOut:
    return DatasetOut.of(schemas.registration(dataset))
