"""Bodies of the columnar events built without pydantic, for the paths that write them per
request or per label batch. The tests validate every body these return against the event
models (PredictionsLogged, PredictionsLabelled), so the contract has one owner.

Columns may be lists or numpy arrays (serialised natively by orjson, no numpy import here).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from .envelope import utcnow
from .events import PredictionsLabelled, PredictionsLogged

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_UTC_Z
#: A list or a 1-D numpy array (typed loosely: this package does not import numpy).
Column = Sequence[Any] | Any


def _envelope(event_type: str, producer: str, version: int, event_id: str | None) -> dict[str, Any]:
    event_id = event_id or str(uuid.uuid4())
    return {
        "event_type": event_type,
        "event_id": event_id,
        "schema_version": version,
        "occurred_at": utcnow(),
        "producer": producer,
        "correlation_id": event_id,
        "causation_id": None,
    }


def prediction_log_body(
    *,
    producer: str,
    dataset: str,
    model_version: int,
    role: str,
    prediction_ids: Column,
    features: Mapping[str, Column],
    predictions: Column,
    scores: Column | None,
    predicted_at_ms: Column,
    event_id: str | None = None,
) -> bytes:
    """A prediction.logged (v3) body."""
    body = _envelope(PredictionsLogged.model_fields["event_type"].default, producer, 3, event_id)
    body |= {
        "dataset": dataset,
        "model_version": model_version,
        "role": role,
        "prediction_ids": prediction_ids,
        "features": features,
        "predictions": predictions,
        "scores": scores,
        "predicted_at_ms": predicted_at_ms,
    }
    return orjson.dumps(body, option=_OPTIONS)


def labelled_body(
    *,
    producer: str,
    dataset: str,
    model_version: int,
    role: str,
    prediction_ids: Column,
    predictions: Column,
    labels: Column,
    predicted_at_ms: Column,
    labelled_at_ms: Column,
    event_id: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> bytes:
    """A prediction.labelled body; `event_id` is derived from its cause by the caller."""
    body = _envelope(PredictionsLabelled.model_fields["event_type"].default, producer, 1, event_id)
    body |= {
        "correlation_id": correlation_id or event_id,
        "causation_id": causation_id,
        "dataset": dataset,
        "model_version": model_version,
        "role": role,
        "prediction_ids": prediction_ids,
        "predictions": predictions,
        "labels": labels,
        "predicted_at_ms": predicted_at_ms,
        "labelled_at_ms": labelled_at_ms,
    }
    return orjson.dumps(body, option=_OPTIONS)


def epoch_ms(at: Any = None) -> int:
    """Unix epoch milliseconds of a datetime (now without one)."""
    return int((at or utcnow()).timestamp() * 1000)
