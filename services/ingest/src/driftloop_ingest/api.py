"""HTTP: records as JSON or CSV, labels for earlier predictions, the dataset schemas."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from driftloop_bus import Bus, Publish
from driftloop_contracts import DatasetSchema, FeedbackReceived, Label, RejectedRow, streams
from driftloop_core import ContentStore, InvalidInput, NotReady
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .csvrows import candidates_from_csv
from .handlers import PRODUCER, ingested_event, rejected_event
from .service import Candidate, IngestResult, Schemas, candidate_from_json, ingest


class RecordsIn(BaseModel):
    records: list[Any] = Field(
        min_length=1,
        max_length=50_000,
        description='Rows as {"features": {...}, "label": ..., "observed_at"?: ISO 8601}.',
    )


class IngestOut(BaseModel):
    dataset: str
    version: str | None = Field(description="Dataset version written, if any row was valid.")
    accepted: int
    rejected: list[RejectedRow]


class LabelsIn(BaseModel):
    labels: list[Label] = Field(min_length=1, max_length=50_000)


class LabelsOut(BaseModel):
    event_id: uuid.UUID
    labels: int


def build_router(
    bus: Bus, store: ContentStore, schemas: Schemas, max_upload_bytes: int
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["ingest"])

    async def run(dataset: str, source: str, candidates: list[Candidate]) -> JSONResponse:
        schema = schemas.get(dataset)
        result: IngestResult = await asyncio.to_thread(ingest, store, schema, candidates)
        events: list[Publish] = []
        if result.version:
            events.append(
                Publish(streams.DATA_INGESTED, ingested_event(result.version, "records", None))
            )
        if result.rejected:
            events.append(
                Publish(
                    streams.DATA_REJECTED, rejected_event(dataset, source, result.rejected, None)
                )
            )
        try:
            await bus.publish(*events)
        except Exception as exc:
            raise NotReady(f"could not publish to Redis, nothing was announced: {exc}") from exc
        body = IngestOut(
            dataset=dataset,
            version=result.version.version if result.version else None,
            accepted=result.accepted,
            rejected=result.rejected,
        )
        code = status.HTTP_200_OK if result.version else status.HTTP_422_UNPROCESSABLE_CONTENT
        return JSONResponse(body.model_dump(mode="json"), status_code=code)

    @router.get("/datasets", summary="Datasets this ingest accepts")
    async def list_datasets() -> list[DatasetSchema]:
        return schemas.all()

    @router.get("/datasets/{dataset}", summary="One dataset's schema")
    async def get_dataset(dataset: str) -> DatasetSchema:
        return schemas.get(dataset)

    @router.post(
        "/datasets/{dataset}/records",
        response_model=IngestOut,
        summary="Submit labelled rows as JSON; bad rows are rejected one by one with a reason",
    )
    async def post_records(dataset: str, body: RecordsIn) -> JSONResponse:
        return await run(dataset, "http", [candidate_from_json(r) for r in body.records])

    @router.post(
        "/datasets/{dataset}/records.csv",
        response_model=IngestOut,
        summary="Submit labelled rows as CSV (text/csv body or multipart field 'file')",
    )
    async def post_csv(dataset: str, request: Request) -> JSONResponse:
        text = await _csv_text(request, max_upload_bytes)
        return await run(dataset, "csv", candidates_from_csv(schemas.get(dataset), text))

    @router.post(
        "/labels",
        response_model=LabelsOut,
        status_code=status.HTTP_202_ACCEPTED,
        summary="True labels for earlier predictions (joined later by prediction id)",
    )
    async def post_labels(body: LabelsIn) -> LabelsOut:
        event = FeedbackReceived(producer=PRODUCER, labels=body.labels)
        try:
            await bus.publish(Publish(streams.FEEDBACK_RECEIVED, event))
        except Exception as exc:
            raise NotReady(f"could not publish to Redis: {exc}") from exc
        return LabelsOut(event_id=event.event_id, labels=len(body.labels))

    return router


async def _csv_text(request: Request, limit: int) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("multipart upload needs a file field named 'file'")
        data = await upload.read(limit + 1)
    elif content_type.startswith(("text/csv", "text/plain", "application/csv")):
        data = await request.body()
    else:
        raise InvalidInput(
            f"send CSV as text/csv or as multipart field 'file', not {content_type or 'no type'}"
        )
    if len(data) > limit:
        raise InvalidInput(f"CSV is larger than {limit} bytes; split it into several uploads")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"CSV must be UTF-8: {exc}") from exc
