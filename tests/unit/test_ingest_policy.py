"""Ingest's decisions with in-memory state: records into versions and rejections; joined
pairs into prediction.labelled events, feedback training rows and forgotten join state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from driftloop_contracts import (
    FeedbackReceived,
    Label,
    PredictionsLabelled,
    Record,
    RecordsSubmitted,
    derived_id,
    streams,
)
from driftloop_contracts.codec import decode_body
from driftloop_ingest.announcements import labelled_event_body
from driftloop_ingest.entries import EntryCache, LoggedEntry
from driftloop_ingest.join import (
    Gathered,
    Joined,
    LabelSide,
    Pair,
    PredictionSide,
    label_sides,
    prediction_sides,
)
from driftloop_ingest.policy import (
    AnnounceLabelled,
    Effect,
    Forget,
    Reject,
    SkipTrainingRows,
    StoreVersion,
    decide_joined,
    decide_records,
)
from driftloop_ingest.service import Schemas
from driftloop_sdk.scenario import SCHEMA, CreditScenario

from tests.support.predictions import prediction_log

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
AT_MS = 1_717_243_200_000  # NOW
SCHEMAS = Schemas([SCHEMA])
ROWS = CreditScenario(4).draw(6, "before")
ENTRY = "1717243200000-0"


def of_type(effects: list[Effect], kind: type[Any]) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def records(dataset: str = "demo", *bad: dict[str, Any]) -> RecordsSubmitted:
    good = [Record(features=f, label=y) for f, y in zip(ROWS.features, ROWS.labels, strict=True)]
    return RecordsSubmitted(
        producer="test", dataset=dataset, records=(*good[:3], *(Record(**b) for b in bad))
    )


# ---------------------------------------------------------------------------- records


def test_records_of_one_dataset_become_one_version_caused_by_the_first_event() -> None:
    first, second = records(), records()

    effects = decide_records(SCHEMAS, [first, second], NOW)

    (store,) = of_type(effects, StoreVersion)
    assert store.source == "records"
    assert store.cause is first
    assert len(store.rows) == 6
    assert store.rows.observed_at == [NOW] * 6
    assert of_type(effects, Reject) == []


def test_each_event_with_bad_rows_gets_its_own_rejection() -> None:
    clean = records()
    dirty = records("demo", {"features": {"income": 1}, "label": "no"})

    effects = decide_records(SCHEMAS, [clean, dirty], NOW)

    (reject,) = of_type(effects, Reject)
    assert (reject.cause, reject.source) == (dirty, "stream")
    assert [r.index for r in reject.rows] == [3]
    assert reject.rows[0].reason.startswith("missing feature 'debt_ratio'")
    assert len(of_type(effects, StoreVersion)[0].rows) == 6


def test_every_row_of_an_unknown_dataset_is_rejected_with_the_known_ones_named() -> None:
    event = records("loans")

    (reject,) = decide_records(SCHEMAS, [event], NOW)

    assert isinstance(reject, Reject)
    assert [r.index for r in reject.rows] == [0, 1, 2]
    assert "unknown dataset 'loans'; known datasets: ['demo']" in reject.rows[0].reason


def test_datasets_of_one_delivery_are_decided_apart() -> None:
    effects = decide_records(SCHEMAS, [records("loans"), records()], NOW)

    assert [type(e) for e in effects] == [Reject, StoreVersion]


# ----------------------------------------------------------------------------- joined


def label_event() -> FeedbackReceived:
    return FeedbackReceived(producer="test", labels=[Label(prediction_id=uuid.uuid4(), label="no")])


CAUSE = label_event()


def pair(
    row: int,
    *,
    side: str = "a",
    role: str = "primary",
    version: int = 1,
    dataset: str = "demo",
    label: str = "yes",
    entry: str = ENTRY,
    cause: Any = CAUSE,
) -> Pair:
    prediction = PredictionSide(entry, row, dataset, version, role, "no", AT_MS + row)  # type: ignore[arg-type]
    return Pair(str(uuid.uuid4()), side, prediction, LabelSide(label, AT_MS + 1000), cause)  # type: ignore[arg-type]


def joined(pairs: list[Pair]) -> Joined:
    """What the join claims with INGEST_FEEDBACK_ROWS=1: the pairs, and the answered ones as
    the rows it took."""
    return Joined(pairs, [Gathered(p.prediction, p.label, p.cause) for p in pairs if p.side == "a"])


def entries(**extra: LoggedEntry | None) -> dict[str, LoggedEntry | None]:
    columns = {name: [f[name] for f in ROWS.features] for name in SCHEMA.feature_names}
    return {ENTRY: LoggedEntry(columns), **extra}


def test_nothing_joined_decides_nothing() -> None:
    assert decide_joined(SCHEMAS, joined([]), entries(), NOW) == []


def test_joined_pairs_are_forgotten_announced_and_become_training_rows() -> None:
    pairs = [pair(0), pair(2)]

    effects = decide_joined(SCHEMAS, joined(pairs), entries(), NOW)

    (forget,) = of_type(effects, Forget)
    assert {id(c.cause) for c in forget.claimed} == {id(CAUSE)}
    assert of_type(effects, AnnounceLabelled) == [
        AnnounceLabelled("demo", 1, "primary", tuple(pairs))
    ]
    (store,) = of_type(effects, StoreVersion)
    assert (store.source, store.cause) == ("feedback", CAUSE)
    rows = store.rows.rows()
    assert [r.features for r in rows] == [ROWS.features[0], ROWS.features[2]]
    assert [r.label for r in rows] == ["yes", "yes"]
    assert rows[1].observed_at == datetime.fromtimestamp((AT_MS + 2) / 1000, UTC)


def test_rows_taken_by_an_event_that_joined_nothing_become_a_version_announcing_nothing() -> None:
    rows = joined([pair(0), pair(1)]).rows

    effects = decide_joined(SCHEMAS, Joined([], rows), entries(), NOW)

    assert [type(e) for e in effects] == [Forget, StoreVersion]
    assert len(of_type(effects, StoreVersion)[0].rows) == 2


def test_each_dataset_version_and_role_is_announced_apart_in_order_of_arrival() -> None:
    pairs = [pair(0), pair(1, version=2, role="canary"), pair(2), pair(3, side="s", role="shadow")]

    announced = of_type(decide_joined(SCHEMAS, joined(pairs), entries(), NOW), AnnounceLabelled)

    assert [(a.model_version, a.role, len(a.pairs)) for a in announced] == [
        (1, "primary", 2),
        (2, "canary", 1),
        (1, "shadow", 1),
    ]


def test_shadow_pairs_are_announced_but_never_become_training_rows() -> None:
    shadow = pair(0, side="s", role="shadow", version=2)

    effects = decide_joined(SCHEMAS, joined([shadow]), entries(), NOW)

    assert [type(e) for e in effects] == [Forget, AnnounceLabelled]


def test_a_trimmed_entry_still_announces_its_pairs_and_counts_the_rows_it_cannot_give() -> None:
    pairs = [pair(0), pair(1, entry="1-0"), pair(2, entry="1-0")]

    effects = decide_joined(SCHEMAS, joined(pairs), entries(**{"1-0": None}), NOW)

    assert of_type(effects, AnnounceLabelled)[0].pairs == tuple(pairs)
    assert of_type(effects, SkipTrainingRows) == [SkipTrainingRows("entry_trimmed", 2)]
    assert len(of_type(effects, StoreVersion)[0].rows) == 1


def test_answers_of_a_dataset_ingest_does_not_manage_are_announced_only() -> None:
    effects = decide_joined(SCHEMAS, joined([pair(0, dataset="loans")]), {}, NOW)

    assert of_type(effects, SkipTrainingRows) == [SkipTrainingRows("unknown_dataset", 1)]
    assert len(of_type(effects, AnnounceLabelled)) == 1
    assert of_type(effects, StoreVersion) == []


def test_a_label_that_is_not_a_class_is_rejected_as_feedback_and_still_announced() -> None:
    effects = decide_joined(SCHEMAS, joined([pair(0, label="maybe"), pair(1)]), entries(), NOW)

    (reject,) = of_type(effects, Reject)
    assert (reject.source, reject.cause) == ("feedback", CAUSE)
    assert "label 'maybe' is not one of ['no', 'yes']" in reject.rows[0].reason
    assert len(of_type(effects, StoreVersion)[0].rows) == 1
    assert len(of_type(effects, AnnounceLabelled)[0].pairs) == 2


# --------------------------------------------------------------------- labelled event


def test_the_labelled_event_is_a_valid_contract_event_derived_from_its_cause() -> None:
    pairs = (pair(0), pair(1))

    body = labelled_event_body("demo", 1, "primary", pairs)

    event = decode_body(body, streams.PREDICTION_LABELLED)
    assert isinstance(event, PredictionsLabelled)
    assert event.event_id == derived_id(CAUSE.event_id, "prediction.labelled", "demo/1/primary")
    assert (event.causation_id, event.correlation_id) == (CAUSE.event_id, CAUSE.event_id)
    assert [str(i) for i in event.prediction_ids] == [p.prediction_id for p in pairs]
    assert event.predictions == ("no", "no")
    assert event.labels == ("yes", "yes")
    assert event.predicted_at_ms == (AT_MS, AT_MS + 1)
    assert event.labelled_at_ms == (AT_MS + 1000, AT_MS + 1000)


def test_a_retry_announces_the_same_event_id() -> None:
    first = orjson.loads(labelled_event_body("demo", 1, "primary", (pair(0),)))
    again = orjson.loads(labelled_event_body("demo", 1, "primary", (pair(0),)))

    assert first["event_id"] == again["event_id"]


# ------------------------------------------------------------------ join state values


@pytest.mark.parametrize(
    ("dataset", "prediction"),
    [("demo", "no"), ("a|b", 'x|"y"'), ("demo", 2.5), ("d", "")],
)
def test_a_prediction_side_round_trips_through_its_packed_form(
    dataset: str, prediction: str | float
) -> None:
    side = PredictionSide("1717243200000-12", 99, dataset, 3, "canary", prediction, AT_MS)

    assert PredictionSide.unpack(side.pack()) == side


def test_a_prediction_side_holds_no_features_and_stays_small() -> None:
    side = PredictionSide("1717243200000-0", 99, "demo", 1, "primary", "no", AT_MS)

    assert side.pack() == '1717243200000-0|99|1|p|1717243200000|"demo","no"'


@pytest.mark.parametrize(("dataset", "role"), [("demo", "primary"), ("100%|d", "canary")])
def test_the_sides_of_a_prediction_log_are_packed_as_each_side_packs_itself(
    dataset: str, role: str
) -> None:
    event = prediction_log(dataset, 7, ROWS.features[:3], ["no", 'y"es', "no"], role=role)

    sides = prediction_sides(event, "12-3")

    assert sides == [
        (
            str(prediction_id),
            PredictionSide("12-3", row, dataset, 7, role, p, at).pack(),  # type: ignore[arg-type]
        )
        for row, (prediction_id, p, at) in enumerate(
            zip(event.prediction_ids, event.predictions, event.predicted_at_ms, strict=True)
        )
    ]


def test_labels_are_packed_with_the_time_their_event_was_sent() -> None:
    event = label_event()

    ((prediction_id, packed),) = label_sides(event)

    assert prediction_id == str(event.labels[0].prediction_id)
    assert LabelSide.unpack(packed) == LabelSide("no", int(event.occurred_at.timestamp() * 1000))


@pytest.mark.parametrize("label", ["yes", "a|b|c", ""])
def test_a_label_side_round_trips_through_its_packed_form(label: str) -> None:
    assert LabelSide.unpack(LabelSide(label, AT_MS).pack()) == LabelSide(label, AT_MS)


# -------------------------------------------------------------------------- entries


def test_an_entry_gives_the_features_of_one_row() -> None:
    entry = LoggedEntry({"a": [1.0, 2.0], "b": ["x", "y"]})

    assert entry.row(1) == {"a": 2.0, "b": "y"}
    assert entry.row(2) is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"features": 3}', b'{"features": {"a": 1}}', b"{}"],
)
def test_an_unreadable_entry_gives_no_features(body: bytes) -> None:
    assert LoggedEntry.parse({b"__data__": body}) is None
    assert LoggedEntry.parse({b"other": body}) is None


def test_the_entry_cache_keeps_the_most_recently_used_entries() -> None:
    cache = EntryCache(2)
    a, b, c = (LoggedEntry({"x": [i]}) for i in range(3))
    cache.put({"a": a, "b": b})
    assert cache.get("a") is a  # a is now the most recent

    cache.put({"c": c, "gone": None})

    assert (cache.get("a"), cache.get("b"), cache.get("c"), cache.get("gone")) == (a, None, c, None)
