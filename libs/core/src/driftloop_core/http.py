"""The HTTP shell every service shares: lifespan owning the bus, /healthz, /readyz, /metrics,
and the one place errors become HTTP responses."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from driftloop_bus import Bus
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from .errors import DriftloopError

Hook = Callable[[], Awaitable[None]]
Check = Callable[[], Awaitable[dict[str, Any]]]


def metrics_text() -> bytes:
    """This process's metrics; every worker's, summed, when several share a port."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def create_app(
    *,
    title: str,
    bus: Bus,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    readiness: Check | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan starts the bus, then the service's own hooks."""

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

    app = FastAPI(title=title, lifespan=lifespan)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"], summary="Liveness: every subscriber running")
    async def healthz() -> JSONResponse:
        health = await bus.health()
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    @app.get("/readyz", tags=["ops"], summary="Readiness: healthy and able to serve")
    async def readyz() -> JSONResponse:
        health = await bus.health()
        ready = await readiness() if readiness else {"ready": health["redis"]}
        body = {**health, **ready, "ok": health["ok"] and ready["ready"]}
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(DriftloopError)
    async def on_driftloop_error(_: Request, exc: DriftloopError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.code, "message": exc.message}
        if exc.details is not None:
            body["details"] = exc.details
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def on_bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(
            {"error": "invalid_input", "message": "; ".join(problems), "details": problems},
            status_code=422,
        )

    return app
