"""The one wire format of every stream: the event's JSON in the entry field ``__data__``.

Every driftloop service and any other Redis client writes and reads events this way, so this
module is the only place that knows it. ``encode`` turns an event into the fields of an XADD;
``decode`` turns a raw entry back into a validated event or raises ``MalformedEvent`` with a
reason a producer can act on. Hot paths that build bodies without pydantic (the columnar
prediction logs) live in ``columnar.py`` and are checked against these models by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from .envelope import Event
from .streams import Stream

#: The entry field holding the event JSON.
DATA_FIELD = b"__data__"

E = TypeVar("E", bound=Event)


class MalformedEvent(Exception):
    """The entry cannot become an event of the stream's type; the message says why."""


def encode(event: Event) -> dict[bytes, bytes]:
    """The fields of the XADD that publishes `event`."""
    return {DATA_FIELD: event.model_dump_json().encode()}


def encode_body(body: bytes) -> dict[bytes, bytes]:
    """The fields of an XADD for an event body already serialised as JSON."""
    return {DATA_FIELD: body}


def entry_body(fields: Mapping[bytes, bytes]) -> bytes:
    """The JSON body of a stream entry."""
    raw = fields.get(DATA_FIELD)
    if raw is None:
        names = sorted(k.decode(errors="replace") for k in fields)
        raise MalformedEvent(f"entry has no __data__ field (fields: {names})")
    return raw


def decode(fields: Mapping[bytes, bytes], stream: Stream[E]) -> E:
    """Validate an entry as the stream's event type or raise MalformedEvent with the reason."""
    return decode_body(entry_body(fields), stream)


def decode_body(body: bytes, stream: Stream[E]) -> E:
    # Fast path, pydantic's own JSON parser (a third faster than orjson.loads and
    # model_validate). event_type has a default in the models, so a body must name it; NaN and
    # Infinity are not JSON (orjson refuses them, pydantic's parser would not). Those bodies,
    # and every body that fails, go the step-by-step way below, which words the reason.
    if b'"event_type"' in body and b"NaN" not in body and b"Infinity" not in body:
        try:
            return stream.event.model_validate_json(body)
        except ValidationError:
            pass
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEvent(f"body must be a JSON object, got {type(data).__name__}")
    expected = stream.event_type
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
