"""The HTTP shell every service shares: lifespan owning the bus, /healthz, /readyz, /metrics,
the body limit, and the error handlers (httperrors.py) that give every error one shape."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from driftloop_bus import Bus
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from pydantic import BaseModel, ConfigDict, Field

from . import httperrors
from .clients import ClientAuth, ClientTokens
from .httperrors import ErrorOut

#: Largest request body by default; services that take uploads raise it.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

Hook = Callable[[], Awaitable[None]]
Check = Callable[[], Awaitable[dict[str, Any]]]


def metrics_text() -> bytes:
    """This process's metrics; every worker's, summed, when several share a port."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


class HealthOut(BaseModel):
    """Liveness (and, for /readyz, readiness plus what the service adds)."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    redis: bool = Field(description="Redis answered a PING within 2 s.")
    subscribers: int
    stopped: list[str] = Field(description="Subscribers not running (liveness fails).")
    subscriber_restarts: int


ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "What to fix, in one shape."},
    "5XX": {"model": ErrorOut, "description": "Not ready, or failed."},
}


def create_app(
    *,
    title: str,
    bus: Bus,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    readiness: Check | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    larger_bodies: Mapping[str, int] | None = None,
    client_tokens: ClientTokens | None = None,
    state: dict[str, Any] | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan starts the bus, then the service's own hooks.

    ``state`` lands on ``app.state`` for the routers' dependencies to read. Every request
    body is limited to ``max_body_bytes``; ``larger_bodies`` raises it for the routes whose
    path matches a regular expression (uploads). With ``client_tokens`` every route but the
    operational ones needs a client's bearer token (checked first: a stranger learns nothing).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        for hook in on_startup:
            await hook()
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook()
            await bus.stop()

    app = FastAPI(title=title, lifespan=lifespan, responses=ERRORS)
    for name, value in (state or {}).items():
        setattr(app.state, name, value)
    app.state.bus = bus
    for router in routers:
        app.include_router(router)
    httperrors.install(app)
    app.add_middleware(httperrors.BodyLimit, max_bytes=max_body_bytes, larger=larger_bodies)
    if client_tokens:
        app.add_middleware(ClientAuth, tokens=client_tokens)

    app.include_router(ops_router(bus, readiness))
    return app


def ops_router(bus: Bus, readiness: Check | None) -> APIRouter:
    """/healthz, /readyz and /metrics."""
    router = APIRouter(tags=["ops"])

    @router.get(
        "/healthz",
        summary="Liveness: every subscriber running",
        response_model=HealthOut,
    )
    async def healthz() -> JSONResponse:
        health = await bus.health()
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    @router.get(
        "/readyz",
        summary="Readiness: healthy and able to serve",
        response_model=HealthOut,
    )
    async def readyz() -> JSONResponse:
        health = await bus.health()
        ready = await readiness() if readiness else {"ready": health["redis"]}
        body = {**health, **ready, "ok": health["ok"] and ready["ready"]}
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)

    return router
