"""The composition root: real adapters by default, fakes passed in by tests."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from driftloop_bus import Bus, Consumer
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_core.http import create_app
from driftloop_core.telemetry import get_logger
from fastapi import FastAPI

from .api import IngestApi, router
from .consumer import IngestConsumer
from .datasets_api import router as datasets_router
from .due import FEEDBACK_DUE, DueTicker
from .entries import EntryCache
from .following import follow_registrations
from .gc_tuning import tune_gc_at_start
from .join import OWNER, JoinState
from .registrar import Registrar
from .seeds import register_seeds
from .service import Schemas
from .settings import IngestSettings

GROUP = OWNER
log = get_logger(__name__)


def build_app(
    settings: IngestSettings,
    *,
    bus: Bus | None = None,
    store: ContentStore | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    store = store or ContentStore(settings.store_url, endpoint_url=settings.store_s3_endpoint_url)
    schemas = Schemas()  # filled by the registrations' replay at start, then kept live
    registrar = Registrar(bus, schemas)
    # Seeds are registered in the replay, before any consumer starts: records for a seeded
    # dataset never meet an ingest that does not know it yet.
    follow_registrations(bus, schemas, before=partial(seed, settings.schema_dir, registrar))
    if warning := settings.retention_warning():
        log.warning(warning)
    join = JoinState(
        bus.redis,
        bus.keys,
        settings.label_wait_s,
        rows=settings.feedback_rows,
        wait_s=settings.feedback_wait_s,
        early_label_ttl_s=settings.early_label_wait_s,
        shadow_wait_s=settings.shadow_wait_s,
    )
    ticker = DueTicker(bus, join, settings.feedback_wait_s)
    consumer = IngestConsumer(
        store=store,
        schemas=schemas,
        join=join,
        redis=bus.redis,
        cache=EntryCache(settings.entry_cache),
        window=settings.window(),
    )
    size = settings.batch_size
    bus.consume(Consumer(streams.INGEST_RECORDS, GROUP, consumer.on_records, batch_size=size))
    bus.consume(
        Consumer(streams.PREDICTION_LOGGED, GROUP, consumer.on_predictions, batch_size=size)
    )
    bus.consume(Consumer(streams.FEEDBACK_RECEIVED, GROUP, consumer.on_feedback, batch_size=size))
    bus.consume(Consumer(FEEDBACK_DUE, GROUP, consumer.on_due, batch_size=size))
    return create_app(
        title="driftloop ingest",
        bus=bus,
        routers=[router, datasets_router],
        on_startup=[tune_gc_at_start, ticker.start],
        on_shutdown=[ticker.stop],
        max_body_bytes=settings.max_json_bytes,
        client_tokens=settings.clients(),
        larger_bodies={r"/v1/datasets/[^/]+/records\.csv": settings.max_upload_bytes},
        state={
            "ingest": IngestApi(bus, store, schemas, settings.max_upload_bytes, settings.window()),
            "schemas": schemas,
            "registrar": registrar,
        },
    )


async def seed(directory: Path, registrar: Registrar) -> None:
    """Register the schema files; a bad one is logged, counted and skipped."""
    await register_seeds(directory, registrar.register)
