"""How events look on a stream entry, and how a raw entry becomes a validated event.

Services publish through FastStream (its binary envelope in the field ``__data__``). Any other
Redis client may XADD the event JSON itself in ``__data__``; both decode the same way here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from driftloop_contracts import Event, Stream
from faststream.redis.parser import BinaryMessageFormatV1
from pydantic import ValidationError

DATA_FIELD = b"__data__"

E = TypeVar("E", bound=Event)


class MalformedEvent(Exception):
    """The entry cannot become an event of the stream's type; the reason says why."""


def entry_body(fields: Mapping[bytes, bytes]) -> bytes:
    """The JSON body of a stream entry, whichever producer wrote it."""
    raw = fields.get(DATA_FIELD)
    if raw is None:
        names = sorted(k.decode(errors="replace") for k in fields)
        raise MalformedEvent(f"entry has no __data__ field (fields: {names})")
    if not raw.startswith(BinaryMessageFormatV1.IDENTITY_HEADER):
        return raw  # plain JSON from any Redis client (never guessed at as a legacy envelope)
    body, _headers = BinaryMessageFormatV1.parse(raw)
    return body


def decode_entry(fields: Mapping[bytes, bytes], stream: Stream[E]) -> E:
    """Validate an entry as the stream's event type or raise MalformedEvent with the reason."""
    body = entry_body(fields)
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent(f"body must be a JSON object, got {type(data).__name__}")
    expected = stream.event.model_fields["event_type"].default
    if data.get("event_type") != expected:
        raise MalformedEvent(
            f"unknown event type {data.get('event_type')!r} on stream {stream.name} "
            f"(it carries {expected!r})"
        )
    try:
        return stream.event.model_validate(data)
    except ValidationError as exc:
        raise MalformedEvent(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: where it is and what is wrong."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def encode_plain(event: Event) -> dict[bytes, bytes]:
    """Fields for a plain XADD of the event (what a non-FastStream producer writes)."""
    return {DATA_FIELD: event.model_dump_json().encode()}
