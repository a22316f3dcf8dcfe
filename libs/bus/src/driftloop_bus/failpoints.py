"""Failpoints: named places in the code where a test can make the process crash or hang.

Off unless DRIFTLOOP_FAILPOINTS names them (``trainer.before_commit=crash``). Each fires once
per namespace (a Redis SET NX decides), so a service restarted with the same environment
carries on. ``crash`` is a real SIGKILL: no finally blocks, no graceful shutdown.
"""

from __future__ import annotations

import asyncio
import os
import signal

import structlog
from driftloop_contracts.keys import Keys
from redis.asyncio import Redis

ACTIONS = ("crash", "hang", "error")
log = structlog.get_logger(__name__)


class FailpointError(RuntimeError):
    """Raised by a failpoint whose action is ``error``."""


def parse(spec: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, action = item.partition("=")
        if action not in ACTIONS:
            raise ValueError(f"failpoint {item!r}: action must be one of {ACTIONS}")
        points[name] = action
    return points


class Failpoints:
    def __init__(self, spec: str, redis: Redis, keys: Keys) -> None:
        self._points = parse(spec)
        self._redis = redis
        self._keys = keys

    def __bool__(self) -> bool:
        return bool(self._points)

    async def hit(self, name: str) -> None:
        action = self._points.get(name)
        if action is None:
            return
        key = self._keys.failpoint(name)
        if not await self._redis.set(key, os.getpid(), nx=True):
            return
        log.warning("failpoint fired", failpoint=name, action=action)
        if action == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "hang":
            await asyncio.Event().wait()
        raise FailpointError(f"failpoint {name}")
