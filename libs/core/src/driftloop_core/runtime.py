"""Running a service process: logging, then uvicorn with the app the composition root built."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings
from .telemetry import configure_logging, get_logger

S = TypeVar("S", bound=ServiceSettings)
ASGIApp = Callable[..., Any]


def serve(service: str, settings: S, build_app: Callable[[S], FastAPI | ASGIApp]) -> None:
    """Configure logging first, then build the app (nothing is built at import), then serve."""
    configure_logging(service, settings.log_level, settings.log_format)
    app = build_app(settings)
    get_logger(__name__).info("starting", port=settings.port, namespace=settings.namespace)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep our logging configuration
        access_log=False,
        timeout_graceful_shutdown=30,
    )
