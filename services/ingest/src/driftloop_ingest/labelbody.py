"""POST /v1/labels without a pydantic model per label: the body checked with orjson and the
feedback.received entry written straight from it (the route had cost ingest more per label
than joining it). The event is what `FeedbackReceived` would write; a test holds the two
equal."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from driftloop_contracts import utcnow
from driftloop_contracts.keys import shard_of_prediction
from driftloop_core import InvalidInput

MAX_LABELS = 50_000
#: The longest label: a class name or a number's text (each waits in Redis for its prediction).
MAX_LABEL_CHARS = 200
SHAPE = 'send {"labels": [{"prediction_id": "<uuid>", "label": "<class or number>"}, ...]}'


def labels_of(raw: bytes) -> list[dict[str, str]]:
    """The labels of a request body, each {"prediction_id": canonical UUID, "label": str};
    InvalidInput saying what to fix otherwise."""
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON ({exc}); {SHAPE}") from None
    labels = body.get("labels") if isinstance(body, dict) else None
    if not isinstance(labels, list) or not 1 <= len(labels) <= MAX_LABELS:
        raise InvalidInput(f"{SHAPE}: 1 to {MAX_LABELS:,} labels")
    return [_label(i, item) for i, item in enumerate(labels)]


def _label(index: int, item: Any) -> dict[str, str]:
    label = item.get("label") if isinstance(item, dict) else None
    if isinstance(label, int | float) and not isinstance(label, bool):
        label = str(label)  # a regression label, kept as its text (as `Label` does)
    if not isinstance(label, str):
        raise InvalidInput(
            f"labels[{index}]: needs a prediction_id and a label (a class name or a number)"
        )
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(
            f"labels[{index}].label has {len(label):,} characters; a label (a class name or a "
            f"number) has at most {MAX_LABEL_CHARS}"
        )
    try:
        return {"prediction_id": str(uuid.UUID(item.get("prediction_id"))), "label": label}
    except (TypeError, ValueError, AttributeError):
        raise InvalidInput(
            f"labels[{index}].prediction_id: {item.get('prediction_id')!r} is not a UUID "
            "(send the prediction_id the predictor answered with)"
        ) from None


def feedback_body(labels: list[dict[str, str]], producer: str) -> tuple[bytes, uuid.UUID]:
    """A feedback.received event's JSON, and its id."""
    event_id = uuid.uuid4()
    event = {
        "event_type": "feedback.received",
        "event_id": str(event_id),
        "schema_version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": producer,
        "correlation_id": str(event_id),
        "causation_id": None,
        "labels": labels,
    }
    return orjson.dumps(event), event_id


def by_shard(labels: list[dict[str, str]], shards: int) -> dict[int, list[dict[str, str]]]:
    """The labels grouped by the shard their prediction was made in (one group unsharded)."""
    if shards <= 1:
        return {0: labels}
    groups: dict[int, list[dict[str, str]]] = {}
    for label in labels:
        groups.setdefault(shard_of_prediction(label["prediction_id"], shards), []).append(label)
    return groups
