"""What was predicted, and how it turned out: the two high-volume, columnar streams.

Columnar because these are the streams that grow with traffic: a row per prediction would
repeat every name, and times as ISO strings cost more than the prediction. Row ``i`` of every
column describes prediction ``i``. Times are Unix epoch milliseconds.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from ..envelope import Event
from ..refs import FeatureValue

Role = Literal["primary", "canary", "shadow"]
#: A predicted value or a label: a class name, or a number for a regression target.
Outcome = str | float

_ROLE_DOC = (
    "primary and canary predictions were answered; shadow ones were not (they share the "
    "prediction ids of the answers they shadow, for comparison)."
)


def _same_length(n: int, **columns: tuple[object, ...] | None) -> None:
    wrong = [name for name, c in columns.items() if c is not None and len(c) != n]
    if wrong:
        raise ValueError(f"columns {wrong} must hold one value per prediction id ({n})")


class PredictionsLogged(Event):
    """A batch of predictions one predictor made with one model version."""

    SUPPORTED_VERSIONS: ClassVar[frozenset[int]] = frozenset({3})

    event_type: Literal["prediction.logged"] = "prediction.logged"
    schema_version: int = Field(default=3, description="3: columns per feature (stream .v3).")
    dataset: str
    model_version: int = Field(ge=1)
    role: Role = Field(default="primary", description=_ROLE_DOC)
    prediction_ids: tuple[uuid.UUID, ...] = Field(min_length=1)
    features: dict[str, tuple[FeatureValue, ...]] = Field(
        description="One column per feature of the served schema: the validated values."
    )
    predictions: tuple[Outcome, ...] = Field(
        description="Predicted class (classification) or value (regression) of each row."
    )
    scores: tuple[float, ...] | None = Field(
        default=None,
        description="Probability of the predicted class; absent for regression.",
    )
    predicted_at_ms: tuple[int, ...] = Field(description="When each row was predicted.")

    @model_validator(mode="after")
    def _columns_line_up(self) -> Self:
        n = len(self.prediction_ids)
        _same_length(
            n,
            predictions=self.predictions,
            scores=self.scores,
            predicted_at_ms=self.predicted_at_ms,
        )
        _same_length(n, **self.features)
        return self

    def __len__(self) -> int:
        return len(self.prediction_ids)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.features)


class PredictionsLabelled(Event):
    """Predictions joined with their true labels, by ingest (the one label joiner)."""

    event_type: Literal["prediction.labelled"] = "prediction.labelled"
    dataset: str
    model_version: int = Field(ge=1)
    role: Role = Field(default="primary", description=_ROLE_DOC)
    prediction_ids: tuple[uuid.UUID, ...] = Field(min_length=1)
    predictions: tuple[Outcome, ...] = Field(description="What the model predicted.")
    labels: tuple[Outcome, ...] = Field(description="What turned out to be true.")
    predicted_at_ms: tuple[int, ...] = Field(description="When each row was predicted.")
    labelled_at_ms: tuple[int, ...] = Field(description="When each label was received.")

    @model_validator(mode="after")
    def _columns_line_up(self) -> Self:
        _same_length(
            len(self.prediction_ids),
            predictions=self.predictions,
            labels=self.labels,
            predicted_at_ms=self.predicted_at_ms,
            labelled_at_ms=self.labelled_at_ms,
        )
        return self

    def __len__(self) -> int:
        return len(self.prediction_ids)
