"""Running a service process: logging, then uvicorn with the app the composition root built."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings
from .telemetry import configure_logging, get_logger

S = TypeVar("S", bound=ServiceSettings)
ASGIApp = Callable[..., Any]
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve(
    service: str,
    settings: S,
    build_app: Callable[[S], FastAPI | ASGIApp],
    *,
    workers: int = 1,
    factory: str | None = None,
) -> None:
    """Configure logging first, then build the app (nothing is built at import), then serve.

    With ``workers > 1`` uvicorn starts that many processes, each building its own app from
    ``factory`` (an import path to a no-argument function), with Prometheus in multiprocess
    mode so /metrics adds up every worker.
    """
    configure_logging(service, settings.log_level, settings.log_format)
    log = get_logger(__name__)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # keep our logging configuration
        "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    if workers > 1:
        if factory is None:
            raise ValueError(f"{service} cannot run several workers without an app factory")
        os.environ.setdefault(MULTIPROC_ENV, tempfile.mkdtemp(prefix=f"driftloop-{service}-"))
        log.info("starting", port=settings.port, workers=workers, namespace=settings.namespace)
        uvicorn.run(factory, factory=True, workers=workers, **common)
        return
    app = build_app(settings)
    log.info("starting", port=settings.port, namespace=settings.namespace)
    uvicorn.run(app, **common)
