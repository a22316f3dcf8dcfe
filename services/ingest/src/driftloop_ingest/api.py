"""HTTP: records as JSON or CSV, labels for earlier predictions (datasets: datasets_api.py).

The routes are module-level; each gets the service object (``IngestApi``, put in
``app.state.ingest`` by the composition root) through an ``Annotated`` dependency.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, cast

import orjson
from driftloop_bus import Bus, Publish, PublishBody
from driftloop_contracts import Label, RejectedRow, streams
from driftloop_core import ContentStore, InvalidInput, NotReady
from driftloop_core.httperrors import ErrorOut
from driftloop_core.params import DatasetPath
from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from .announcements import PRODUCER, ingested_event, rejected_event
from .candidates import Candidate, candidate_from_json
from .csvrows import candidates_from_csv
from .labelbody import by_shard, feedback_body, labels_of
from .service import Schemas, ingest
from .validation import DEFAULT_WINDOW, TimeWindow


class RecordsIn(BaseModel):
    records: list[Any] = Field(
        min_length=1,
        max_length=50_000,
        description='Rows as {"features": {...}, "label": ..., "observed_at"?: ISO 8601}.',
    )


class IngestOut(BaseModel):
    dataset: str
    version: str | None = Field(description="Dataset version written, if any row was valid.")
    accepted: int = Field(description="Rows in that version.")
    rejected: list[RejectedRow] = Field(description="Rows refused, each with its reason.")


class LabelsIn(BaseModel):
    labels: list[Label] = Field(min_length=1, max_length=50_000)


class LabelsOut(BaseModel):
    event_id: uuid.UUID = Field(description="The feedback.received event the labels went out in.")
    labels: int


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its $defs put in place (one level: LabelsIn's Label)."""
    defs = schema.pop("$defs", {})
    text = orjson.dumps(schema).decode()
    for name, definition in defs.items():
        text = text.replace(f'{{"$ref":"#/$defs/{name}"}}', orjson.dumps(definition).decode())
    inlined: dict[str, Any] = orjson.loads(text)
    return inlined


class NoValidRow(InvalidInput):
    """Every row of a request was rejected (and announced on data.rejected)."""

    code = "no_valid_row"


class IngestApi:
    """What the routes do, with the service's bus, store and schemas."""

    def __init__(
        self,
        bus: Bus,
        store: ContentStore,
        schemas: Schemas,
        max_upload_bytes: int,
        window: TimeWindow = DEFAULT_WINDOW,
    ) -> None:
        self.bus = bus
        self.store = store
        self.schemas = schemas
        self.max_upload_bytes = max_upload_bytes
        self.window = window

    async def submit(self, dataset: str, source: str, candidates: list[Candidate]) -> IngestOut:
        """Validate, store the valid rows as a version, announce it and the rejects."""
        schema = self.schemas.get(dataset)
        result = await asyncio.to_thread(ingest, self.store, schema, candidates, self.window)
        events: list[Publish] = []
        if result.version:
            ingested = ingested_event(result.version, "records", None)
            events.append(Publish(streams.DATA_INGESTED, ingested))
        if result.rejected:
            rejected = rejected_event(dataset, source, result.rejected, None)
            events.append(Publish(streams.DATA_REJECTED, rejected))
        try:
            await self.bus.publish(*events)
        except Exception as exc:
            raise NotReady(f"could not publish to Redis, nothing was announced: {exc}") from exc
        return IngestOut(
            dataset=dataset,
            version=result.version.version if result.version else None,
            accepted=result.accepted,
            rejected=result.rejected,
        )

    async def send_labels(self, raw: bytes) -> LabelsOut:
        """One feedback.received entry for the request's labels (with REDIS_SHARDS > 1, one
        per shard of their predictions, each joined there; the answer names the first)."""
        labels = labels_of(raw)
        bodies = [
            (shard, *feedback_body(part, PRODUCER))
            for shard, part in by_shard(labels, self.bus.keys.shards).items()
        ]
        try:
            await self.bus.publish(
                *(PublishBody(streams.FEEDBACK_RECEIVED, b, shard=s) for s, b, _ in bodies)
            )
        except Exception as exc:
            raise NotReady(f"could not publish to Redis: {exc}") from exc
        return LabelsOut(event_id=bodies[0][2], labels=len(labels))


async def _api(request: Request) -> IngestApi:
    # async: FastAPI runs a plain function dependency in a worker thread, per request
    return cast(IngestApi, request.app.state.ingest)


Api = Annotated[IngestApi, Depends(_api)]
NO_VALID_ROW: dict[int | str, dict[str, Any]] = {
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ErrorOut,
        "description": 'No row was valid: error "no_valid_row", and `details` is the answer '
        "(IngestOut) with each rejected row and its reason; or the body is not a records "
        "request.",
    }
}
router = APIRouter(prefix="/v1", tags=["ingest"])


@router.post(
    "/datasets/{dataset}/records",
    responses=NO_VALID_ROW,
    summary="Submit labelled rows as JSON; bad rows are rejected one by one with a reason",
)
async def post_records(dataset: DatasetPath, body: RecordsIn, api: Api) -> IngestOut:
    out = await api.submit(dataset, "http", [candidate_from_json(r) for r in body.records])
    return _valid(out)


@router.post(
    "/datasets/{dataset}/records.csv",
    responses=NO_VALID_ROW,
    summary="Submit labelled rows as CSV (text/csv body or multipart field 'file')",
)
async def post_csv(dataset: DatasetPath, request: Request, api: Api) -> IngestOut:
    text = await _csv_text(request, api.max_upload_bytes)
    out = await api.submit(dataset, "csv", candidates_from_csv(api.schemas.get(dataset), text))
    return _valid(out)


@router.post(
    "/labels",
    status_code=status.HTTP_202_ACCEPTED,
    summary="True labels for earlier predictions (joined by prediction id, in any order)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(LabelsIn.model_json_schema())}},
        }
    },
)
async def post_labels(request: Request, api: Api) -> LabelsOut:
    # The body is read and checked by labelbody (no model per label); LabelsIn documents it.
    return await api.send_labels(await request.body())


def _valid(out: IngestOut) -> IngestOut:
    """The answer, or the error that says no row was valid (the rejects were announced)."""
    if out.version is None:
        first = f"row {out.rejected[0].index}: {out.rejected[0].reason}" if out.rejected else ""
        raise NoValidRow(
            f"none of the {len(out.rejected)} rows is valid ({first}); details.rejected gives "
            "each row's reason",
            details=out.model_dump(mode="json"),
        )
    return out


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
