"""The service shell every driftloop service shares: settings, HTTP, telemetry, errors, store.

The bus lives in driftloop_bus; contracts (events, codec, rows) in driftloop_contracts.
"""

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
    "Conflict",
    "ContentStore",
    "DriftloopError",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "NotReady",
    "PermanentError",
    "ServiceSettings",
    "Unauthorized",
]
