"""prediction.logged events for tests, built the way a predictor would log them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from driftloop_contracts import PredictionsLabelled, PredictionsLogged
from driftloop_contracts.columnar import epoch_ms


def prediction_log(
    dataset: str,
    version: int,
    rows: Sequence[Mapping[str, Any]],
    predictions: Sequence[str] | str = "no",
    *,
    ids: Sequence[uuid.UUID] | None = None,
    role: str = "primary",
    score: float = 0.7,
    producer: str = "test",
) -> PredictionsLogged:
    """One columnar event for `rows` (feature dicts), each predicted as given."""
    names = list(rows[0]) if rows else []
    n = len(rows)
    answers = [predictions] * n if isinstance(predictions, str) else list(predictions)
    now = epoch_ms()
    return PredictionsLogged(
        producer=producer,
        dataset=dataset,
        model_version=version,
        role=role,  # type: ignore[arg-type]
        prediction_ids=tuple(ids or [uuid.uuid4() for _ in range(n)]),
        features={name: tuple(r.get(name) for r in rows) for name in names},
        predictions=tuple(answers),
        scores=tuple([score] * n),
        predicted_at_ms=tuple([now] * n),
    )


def logged_ids(events: Sequence[PredictionsLogged]) -> list[str]:
    return [str(i) for e in events for i in e.prediction_ids]


def labelled(
    event: PredictionsLogged,
    labels: Sequence[str],
    *,
    producer: str = "test",
) -> PredictionsLabelled:
    """The prediction.labelled event ingest publishes once the labels of `event` arrived."""
    return PredictionsLabelled(
        producer=producer,
        dataset=event.dataset,
        model_version=event.model_version,
        role=event.role,
        prediction_ids=event.prediction_ids,
        predictions=event.predictions,
        labels=tuple(labels),
        predicted_at_ms=event.predicted_at_ms,
        labelled_at_ms=tuple([epoch_ms()] * len(event)),
    )
