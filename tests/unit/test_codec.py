"""Stream entries: the codec's plain JSON in; a validated event or a reason out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.codec import DATA_FIELD, MalformedEvent, decode, encode, entry_body

STREAM = streams.TRAINING_REQUESTED


def request() -> TrainingRequested:
    return TrainingRequested(dataset="demo", reason="unit test", producer="test")


def entry(body: Any) -> dict[bytes, bytes]:
    """A plain entry whose __data__ is `body` as JSON (or as given, if bytes)."""
    return {DATA_FIELD: body if isinstance(body, bytes) else orjson.dumps(body)}


def event_json(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(request().model_dump_json())
    data.update(changes)
    return data


def test_a_plain_event_round_trips_through_the_codec() -> None:
    event = request()

    fields = encode(event)

    assert list(fields) == [b"__data__"]
    assert decode(fields, STREAM) == event


def test_plain_json_written_by_any_client_decodes() -> None:
    body = {"event_type": "training.requested", "dataset": "demo"}

    event = decode(entry(body), STREAM)

    assert isinstance(event, TrainingRequested)
    assert event.dataset == "demo"
    assert event.correlation_id == event.event_id


def test_entry_body_returns_plain_json_as_it_is() -> None:
    body = request().model_dump_json().encode()

    assert entry_body({DATA_FIELD: body}) == body


def test_other_fields_of_the_entry_do_not_matter() -> None:
    fields = {**encode(request()), b"trace": b"abc"}

    assert decode(fields, STREAM).dataset == "demo"


def test_unknown_fields_in_the_body_are_ignored() -> None:
    assert decode(entry(event_json(added_later=1)), STREAM).dataset == "demo"


# ------------------------------------------------------------------------ what is refused


def test_an_entry_without_data_names_the_fields_it_has() -> None:
    with pytest.raises(MalformedEvent) as caught:
        entry_body({b"payload": b"{}", b"event": b"x"})

    assert str(caught.value) == "entry has no __data__ field (fields: ['event', 'payload'])"


def test_an_entry_without_data_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="entry has no __data__ field"):
        decode({}, STREAM)


@pytest.mark.parametrize("body", [b"not json", b"{", b""], ids=["text", "truncated", "empty"])
def test_a_body_that_is_not_json_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEvent, match=r"^body is not JSON: "):
        decode(entry(body), STREAM)


@pytest.mark.parametrize(
    ("body", "kind"), [([1, 2], "list"), ("text", "str"), (3, "int"), (None, "NoneType")]
)
def test_a_body_that_is_not_a_json_object_is_malformed(body: Any, kind: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        decode(entry(body), STREAM)

    assert str(caught.value) == f"body must be a JSON object, got {kind}"


def test_an_event_of_another_type_is_malformed_and_says_what_the_stream_carries() -> None:
    with pytest.raises(MalformedEvent) as caught:
        decode(entry(event_json(event_type="training.failed")), STREAM)

    assert str(caught.value) == (
        "unknown event type 'training.failed' on stream training.requested.v1 "
        "(it carries 'training.requested')"
    )


def test_a_body_without_event_type_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="unknown event type None on stream"):
        decode(entry({"dataset": "demo"}), STREAM)


def test_a_missing_required_field_is_named() -> None:
    data = event_json()
    del data["dataset"]

    with pytest.raises(MalformedEvent) as caught:
        decode(entry(data), STREAM)

    assert str(caught.value) == "dataset: Field required"


def test_every_invalid_field_is_named_on_one_line() -> None:
    data = event_json(event_id="not-a-uuid", since="yesterday")

    with pytest.raises(MalformedEvent) as caught:
        decode(entry(data), STREAM)

    message = str(caught.value)
    assert message.startswith("event_id: ")
    assert "; since: " in message
    assert "\n" not in message


def test_an_unsupported_schema_version_is_malformed_with_the_versions_this_code_reads() -> None:
    with pytest.raises(MalformedEvent) as caught:
        decode(entry(event_json(schema_version=2)), STREAM)

    assert str(caught.value) == (
        "body: Value error, unsupported schema_version 2 for training.requested "
        "(this consumer reads 1)"
    )


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(token: bytes) -> None:
    body = b'{"event_type": "training.requested", "dataset": "demo", "x": ' + token + b"}"

    with pytest.raises(MalformedEvent, match="body is not JSON"):
        decode({DATA_FIELD: body}, STREAM)
