"""One error hierarchy.

HTTP status is mapped once (http.py); retry versus dead-letter once (consumer.py).
"""

from __future__ import annotations

from driftloop_bus import PermanentError as _DeadLetterAtOnce


class DriftloopError(Exception):
    """Base of every error driftloop raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DriftloopError):
    """The caller sent something that can be fixed on their side."""

    status_code = 422
    code = "invalid_input"


class NotFound(DriftloopError):
    status_code = 404
    code = "not_found"


class Unauthorized(DriftloopError):
    status_code = 401
    code = "unauthorized"


class Conflict(DriftloopError):
    status_code = 409
    code = "conflict"


class NotReady(DriftloopError):
    """The service cannot answer yet (no model loaded, dependency down)."""

    status_code = 503
    code = "not_ready"


class IntegrityError(DriftloopError):
    """Stored bytes do not match the sha256 recorded for them."""

    status_code = 500
    code = "integrity_error"


class PermanentError(DriftloopError, _DeadLetterAtOnce):
    """Retrying cannot help: the consumer dead-letters the event at once."""

    code = "permanent_error"
