"""The composition root: real adapters by default, fakes passed in by tests."""

from __future__ import annotations

from pathlib import Path

from driftloop_bus import Bus, Consumer
from driftloop_contracts import DatasetSchema, streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from fastapi import FastAPI

from .api import build_router
from .handlers import IngestHandlers
from .join import LabelJoin
from .service import Schemas
from .settings import IngestSettings

GROUP = "ingest"


def load_schemas(directory: Path) -> Schemas:
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    return Schemas(DatasetSchema.model_validate_json(f.read_bytes()) for f in files)


def build_app(
    settings: IngestSettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
    schemas: Schemas | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url)
    schemas = schemas or load_schemas(settings.schema_dir)
    join = LabelJoin(
        bus.redis, namespace=settings.namespace, owner=GROUP, ttl_s=settings.join_ttl_s
    )
    handlers = IngestHandlers(store, schemas, join)
    size = settings.batch_size
    bus.consume(Consumer(streams.INGEST_RECORDS, GROUP, handlers.on_records, batch_size=size))
    bus.consume(
        Consumer(streams.PREDICTION_LOGGED, GROUP, handlers.on_predictions, batch_size=size)
    )
    bus.consume(Consumer(streams.FEEDBACK_RECEIVED, GROUP, handlers.on_feedback, batch_size=size))
    router = build_router(bus, store, schemas, settings.max_upload_bytes)
    return create_app(
        title="driftloop ingest",
        bus=bus,
        routers=[router],
        max_body_bytes=settings.max_upload_bytes,
    )
