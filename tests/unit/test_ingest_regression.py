"""A regression dataset through ingest: numeric labels validated a column at a time (with the
row path's reason for a bad one), numeric feedback labels, and prediction.labelled with numbers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from driftloop_contracts import FeedbackReceived, Label, PredictionsLabelled, streams
from driftloop_contracts.codec import decode_body
from driftloop_contracts.rows import RowError, validate_label
from driftloop_ingest.announcements import labelled_event_body
from driftloop_ingest.candidates import Candidates
from driftloop_ingest.entries import LoggedEntry
from driftloop_ingest.join import Gathered, Joined, LabelSide, Pair, PredictionSide
from driftloop_ingest.policy import AnnounceLabelled, Reject, StoreVersion, decide_joined
from driftloop_ingest.service import Schemas
from driftloop_ingest.validation import validate
from driftloop_sdk.scenario import SCHEMA, HouseScenario

HOUSES = HouseScenario.schema
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
AT_MS = 1_717_243_200_000
ROWS = HouseScenario(4).draw(6, "before")
ENTRY = "1717243200000-0"
SCHEMAS = Schemas([SCHEMA, HOUSES])


def candidates(labels: list[Any]) -> Candidates:
    features = [ROWS.features[i % len(ROWS.features)] for i in range(len(labels))]
    return Candidates(features, labels, [None] * len(labels))


# ----------------------------------------------------------------------- label validation


def test_numeric_labels_are_kept_as_the_text_of_their_float() -> None:
    valid, rejected = validate(HOUSES, candidates([12, 3.5, "7.25", "1e3", -0.0]), NOW)

    assert rejected == []
    assert valid.labels == ["12.0", "3.5", "7.25", "1000.0", "-0.0"]


@pytest.mark.parametrize(
    "label", ["twelve", float("nan"), float("inf"), "inf", True, None, "", [1], {"a": 1}, 10**400]
)
def test_a_label_that_is_not_a_finite_number_is_rejected_with_the_row_paths_reason(
    label: Any,
) -> None:
    valid, rejected = validate(HOUSES, candidates([1.5, label, "2"]), NOW)

    assert valid.labels == ["1.5", "2.0"]
    (bad,) = rejected
    assert bad.index == 1
    with pytest.raises(RowError) as expected:
        validate_label(HOUSES, label)
    assert bad.reason == str(expected.value)


def test_the_fast_path_agrees_with_the_row_path_on_every_good_label() -> None:
    labels: list[Any] = [1, 2.5, "3", "4.75", 0, -3.0, "1e-3"]

    valid, _ = validate(HOUSES, candidates(labels), NOW)

    assert valid.labels == [validate_label(HOUSES, y) for y in labels]


def test_a_classification_target_still_takes_only_its_classes() -> None:
    valid, rejected = validate(SCHEMA, Candidates([{}], ["1.5"], [None]), NOW)

    assert len(valid) == 0 and len(rejected) == 1


# -------------------------------------------------------------------- feedback labels


def test_a_feedback_label_sent_as_a_json_number_is_taken_as_its_text() -> None:
    label = Label.model_validate({"prediction_id": str(uuid.uuid4()), "label": 12.5})

    assert label.label == "12.5"


CAUSE = FeedbackReceived(producer="test", labels=[Label(prediction_id=uuid.uuid4(), label="1")])


def pair(row: int, label: str, prediction: float = 250.0) -> Pair:
    side = PredictionSide(ENTRY, row, "houses", 1, "primary", prediction, AT_MS + row)
    return Pair(str(uuid.uuid4()), "a", side, LabelSide(label, AT_MS + 1000), CAUSE)


def joined(pairs: list[Pair]) -> Joined:
    """The pairs announced by a delivery that also took them (gathered) for training."""
    return Joined(pairs, [Gathered(p.prediction, p.label, p.cause) for p in pairs])


def entries() -> dict[str, LoggedEntry | None]:
    columns = {name: [f[name] for f in ROWS.features] for name in HOUSES.feature_names}
    return {ENTRY: LoggedEntry(columns)}


def test_joined_regression_labels_are_announced_as_numbers() -> None:
    pairs = [pair(0, "240.5"), pair(1, "260")]

    effects = decide_joined(SCHEMAS, joined(pairs), entries(), NOW)

    (announce,) = [e for e in effects if isinstance(e, AnnounceLabelled)]
    assert announce.numeric and announce.pairs == tuple(pairs)
    body = labelled_event_body("houses", 1, "primary", announce.pairs, announce.numeric)
    event = decode_body(body, streams.PREDICTION_LABELLED)
    assert isinstance(event, PredictionsLabelled)
    assert event.labels == (240.5, 260.0)
    assert event.predictions == (250.0, 250.0)
    (store,) = [e for e in effects if isinstance(e, StoreVersion)]
    assert store.rows.labels == ["240.5", "260.0"]


def test_a_feedback_label_that_is_no_number_is_rejected_and_not_announced() -> None:
    effects = decide_joined(SCHEMAS, joined([pair(0, "cheap"), pair(1, "260")]), entries(), NOW)

    (announce,) = [e for e in effects if isinstance(e, AnnounceLabelled)]
    assert len(announce.pairs) == 1
    (reject,) = [e for e in effects if isinstance(e, Reject)]
    assert "label 'cheap' of 'price' is not a finite number" in reject.rows[0].reason
