"""The composition root of the console: HTTP clients of the five services, the streams as the
read-only `console` Redis user, and (when configured) dead-letter replay as `console-admin`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from driftloop_bus import Bus, connection
from driftloop_core.http import create_app
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from . import admin, pages
from .ports import Replayer, Services, Streams
from .service import ConsoleReads
from .settings import ConsoleSettings
from .sources import HttpServices, RedisReplayer, RedisStreams

#: Pages load nothing from elsewhere; pygal's SVG carries inline styles, no script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def http_services(settings: ConsoleSettings) -> HttpServices:
    urls = {
        "ingest": settings.ingest_url,
        "trainer": settings.trainer_url,
        "registry": settings.registry_url,
        "predictor": settings.predictor_url,
        "monitor": settings.monitor_url,
    }
    return HttpServices(urls, settings.timeout_s)


def replay_redis(settings: ConsoleSettings) -> Redis | None:
    """A client as CONSOLE_REPLAY_USERNAME, on the same Redis as the bus (one server, the
    sentinels' primary, or the cluster)."""
    if not settings.replay_enabled or settings.replay_password is None:
        return None
    login = {"redis_username": settings.replay_username, "redis_password": settings.replay_password}
    return connection.connect(settings.model_copy(update=login))


def build_app(
    settings: ConsoleSettings,
    *,
    bus: Bus | None = None,
    services: Services | None = None,
    streams: Streams | None = None,
    replayer: Replayer | None = None,
) -> FastAPI:
    bus = bus or Bus(settings)
    http = http_services(settings) if services is None else None
    services = services or http
    assert services is not None
    streams = streams or RedisStreams(bus.redis, bus.keys)
    admin_redis = replay_redis(settings) if replayer is None else None
    if replayer is None and admin_redis is not None:
        replayer = RedisReplayer(admin_redis, bus.keys)

    async def close() -> None:
        if http is not None:
            await http.close()
        if admin_redis is not None:
            await admin_redis.aclose()

    reads = ConsoleReads(
        services, streams, settings.report_base, scan=settings.scan, tail=settings.tail
    )
    app = create_app(
        title="driftloop console",
        bus=bus,
        routers=[pages.router, admin.router],
        on_shutdown=[close],
        state={"settings": settings, "services": services, "reads": reads, "replayer": replayer},
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
