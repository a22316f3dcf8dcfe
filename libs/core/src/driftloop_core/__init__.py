"""Plumbing every driftloop service shares: bus, consumer pattern, settings, store, telemetry."""

from .bus import Bus, Follower
from .consumer import Consumer, Output, Publish, RedisWrite, each
from .errors import (
    Conflict,
    DriftloopError,
    IntegrityError,
    InvalidInput,
    NotFound,
    NotReady,
    PermanentError,
    Unauthorized,
)
from .settings import ServiceSettings
from .store import ContentStore

__all__ = [
    "Bus",
    "Conflict",
    "Consumer",
    "ContentStore",
    "DriftloopError",
    "Follower",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "NotReady",
    "Output",
    "PermanentError",
    "Publish",
    "RedisWrite",
    "ServiceSettings",
    "Unauthorized",
    "each",
]
