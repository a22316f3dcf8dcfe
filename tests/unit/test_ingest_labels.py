"""POST /v1/labels' body, checked and turned into a feedback.received entry without a model
per label: the entry is what FeedbackReceived itself would be."""

from __future__ import annotations

import uuid

import orjson
import pytest
from driftloop_contracts import FeedbackReceived, Label, streams
from driftloop_contracts.codec import decode_body
from driftloop_core import InvalidInput
from driftloop_ingest.labelbody import feedback_body, labels_of


def test_the_entry_decodes_as_the_feedback_event_with_the_labels_sent() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    raw = orjson.dumps({"labels": [{"prediction_id": str(i), "label": "yes"} for i in ids]})

    body, event_id = feedback_body(labels_of(raw), "ingest")

    event = decode_body(body, streams.FEEDBACK_RECEIVED)
    assert isinstance(event, FeedbackReceived)
    assert (event.event_id, event.producer, event.correlation_id) == (event_id, "ingest", event_id)
    assert [(lb.prediction_id, lb.label) for lb in event.labels] == [(i, "yes") for i in ids]
    assert orjson.loads(body).keys() == orjson.loads(event.model_dump_json()).keys()


def test_a_prediction_id_is_sent_on_in_its_canonical_form() -> None:
    prediction_id = uuid.uuid4()
    raw = orjson.dumps({"labels": [{"prediction_id": prediction_id.hex.upper(), "label": "no"}]})

    assert labels_of(raw) == [{"prediction_id": str(prediction_id), "label": "no"}]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{not json", "not JSON"),
        (b'{"labels": []}', "1 to 50,000 labels"),
        (b'{"rows": [1]}', '{"labels": ['),
        (b'{"labels": [{"prediction_id": "x", "label": "yes"}]}', "labels[0].prediction_id"),
        (b'{"labels": [{"prediction_id": null, "label": "yes"}]}', "labels[0].prediction_id"),
        (
            b'{"labels": [{"prediction_id": "%s", "label": true}]}'
            % b"66909af6-c504-4c02-80a1-7f623c3f787f",
            "a class name or a number",
        ),
        (b'{"labels": ["yes"]}', "labels[0]"),
    ],
)
def test_a_bad_body_is_refused_saying_what_to_fix(raw: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=None) as refused:
        labels_of(raw)
    assert says in refused.value.message


def test_a_numeric_label_is_kept_as_its_text_as_the_label_model_does() -> None:
    prediction_id = str(uuid.uuid4())
    body = b'{"labels": [{"prediction_id": "%s", "label": 251.5}]}' % prediction_id.encode()

    assert labels_of(body) == [{"prediction_id": prediction_id, "label": "251.5"}]
    assert Label.model_validate({"prediction_id": prediction_id, "label": 251.5}).label == "251.5"
