"""What `driftloop publish` tells of its rows: counted from ingest's outcome events of its
batch (one correlation id), rejected rows named by their place in the file; and what it can
say wrong before publishing anything."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from driftloop_contracts import DataRejected, RecordsSubmitted, RejectedRow
from driftloop_core import ContentStore
from driftloop_sdk import records_file
from driftloop_sdk.outcome import Tally
from driftloop_sdk.records_file import RecordsFileError
from driftloop_sdk.tail import Line, UnknownStream, chosen

from tests.support.data import ingested, labelled_rows

PLANTS = {
    "schema": {
        "features": [{"name": "height"}, {"name": "soil"}],
        "target": {"name": "species"},
    }
}


def submitted(batch: uuid.UUID) -> RecordsSubmitted:
    record = {"features": {"height": 1.0}, "label": "fern"}
    return RecordsSubmitted(dataset="plants", records=(record,), correlation_id=batch)


def rejected(cause: RecordsSubmitted, *indexes: int) -> DataRejected:
    rows = tuple(RejectedRow(index=i, row={}, reason=f"bad row {i}") for i in indexes)
    return DataRejected.caused_by(
        cause, "plants/stream", "ingest", dataset="plants", source="stream", rejected=rows
    )


def test_rows_are_accepted_and_rejected_by_the_batchs_outcome_events_only(tmp_path: Path) -> None:
    batch = uuid.uuid4()
    first, second = submitted(batch), submitted(batch)
    tally = Tally(batch, total=10, offsets={first.event_id: 0, second.event_id: 500})
    version = ingested(ContentStore(str(tmp_path)), labelled_rows(8))
    tally.add(version.model_copy(update={"correlation_id": batch, "causation_id": first.event_id}))
    tally.add(rejected(second, 3, 7))
    tally.add(rejected(second, 3, 7))  # the same event again (a redelivery): counted once
    tally.add(rejected(submitted(uuid.uuid4()), 0))  # another producer's batch
    assert (tally.accepted, tally.rejected, tally.done) == (8, 2, True)
    assert tally.reasons == [(504, "bad row 3"), (508, "bad row 7")]


def test_the_label_column_is_the_one_given_else_the_datasets_target_else_label() -> None:
    assert records_file.label_column("y", PLANTS) == "y"
    assert records_file.label_column(None, PLANTS) == "species"
    assert records_file.label_column(None, None) == "label"


def test_a_missing_label_column_or_columns_that_are_not_features_are_said(tmp_path: Path) -> None:
    file = tmp_path / "plants.csv"
    file.write_text("height,soil,colour,species\n1.5,clay,green,fern\n")
    with pytest.raises(RecordsFileError, match=r"has no column 'label'.*--label-column"):
        records_file.read(file, "label")
    rows = records_file.read(file, "species")
    assert rows.records == [
        {
            "label": "fern",
            "observed_at": None,
            "features": {"height": "1.5", "soil": "clay", "colour": "green"},
        }
    ]
    with pytest.raises(RecordsFileError, match="colour are not features of dataset 'plants'"):
        records_file.check_columns(rows, "species", "plants", PLANTS)


def test_a_tailed_event_is_one_line_with_its_full_ids() -> None:
    event_id, correlation = uuid.uuid4(), uuid.uuid4()
    body = {
        "event_type": "drift.detected",
        "event_id": str(event_id),
        "correlation_id": str(correlation),
        "dataset": "plants",
        "kind": "data",
        "model_version": 3,
    }
    line = Line("1795990671234-0", "drift.detected.v1", body).render()
    assert line.startswith("1795990671234-0  drift.detected.v1  drift.detected")
    assert f"event={event_id}" in line and f"correlation={correlation}" in line
    assert "dataset=plants" in line and "kind=data" in line and "\n" not in line


def test_only_known_streams_can_be_tailed() -> None:
    assert "drift.detected.v1" in chosen([])
    assert chosen(["data.ingested.v1.dlq"]) == ["data.ingested.v1.dlq"]
    with pytest.raises(UnknownStream, match="unknown stream"):
        chosen(["data.ingested"])
