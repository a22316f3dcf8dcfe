"""Ingest as the one label joiner, against a real Redis: prediction logs and labels in any
order, shadows, a failed commit, trimmed entries; prediction.labelled and feedback rows out,
and no join state left behind."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from driftloop_bus import Keys
from driftloop_contracts import (
    FeedbackReceived,
    Label,
    PredictionsLabelled,
    PredictionsLogged,
    derived_id,
    streams,
)
from driftloop_contracts.datasets import LabelledRow, loads
from driftloop_core import ContentStore
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.join import PredictionSide
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from fastapi.testclient import TestClient

from tests.support.predictions import prediction_log
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

GROUP = "ingest"
Start = Callable[..., TestClient]


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def start(redis_url: str, namespace: str, tmp_path: Path, store: ContentStore) -> Iterator[Start]:
    """Start ingest with these settings (on top of the test's Redis, namespace and store)."""
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "demo.json").write_text(SCHEMA.model_dump_json())
    with ExitStack() as running:

        def start_ingest(**overrides: Any) -> TestClient:
            settings = IngestSettings(
                redis_url=redis_url,
                namespace=namespace,
                store_url=store.url,
                schema_dir=schema_dir,
                reclaim_idle_ms=1000,
                **overrides,
            )
            return running.enter_context(TestClient(build_app(settings)))

        yield start_ingest


def logged(
    n: int, *, role: str = "primary", version: int = 1, seed: int = 1, **kw: Any
) -> PredictionsLogged:
    rows = CreditScenario(seed).draw(n, "before").features
    return prediction_log(
        "demo", version, rows, ["no", "yes"] * (n // 2) + ["no"] * (n % 2), role=role, **kw
    )


def labels(ids: Any, label: str = "yes") -> FeedbackReceived:
    return FeedbackReceived(
        producer="test", labels=[Label(prediction_id=i, label=label) for i in ids]
    )


def join_keys(io: Streams) -> list[bytes]:
    return sorted(io.redis.scan_iter(f"{io.namespace}ingest:join:*", count=1000))


def labelled_rows(io: Streams, count: int) -> list[tuple[PredictionsLabelled, int]]:
    """(event, row) of every labelled prediction, once `count` of them are out."""

    def rows() -> list[tuple[PredictionsLabelled, int]] | None:
        found = [(e, i) for e in io.read(streams.PREDICTION_LABELLED) for i in range(len(e))]
        return found if len(found) >= count else None

    return eventually_sync(rows, timeout=20, what=f"{count} labelled predictions")


def feedback_rows(io: Streams, store: ContentStore) -> list[LabelledRow]:
    versions = [e for e in io.read(streams.DATA_INGESTED) if e.source == "feedback"]
    return [row for v in versions for row in loads(store.get(v.blob))]


def entry_id_of(io: Streams, event: PredictionsLogged) -> str:
    for entry_id, fields in io.redis.xrange(streams.PREDICTION_LOGGED.key(io.namespace)):
        if str(event.event_id).encode() in fields[b"__data__"]:
            return str(entry_id.decode())
    raise AssertionError(f"{event.event_id} is not on the stream")


def publish_and_wait(io: Streams, stream: Any, *events: Any) -> None:
    io.publish(stream, *events)
    io.wait_consumed(stream, GROUP)


def test_labels_before_and_after_their_predictions_are_joined_once_and_leave_no_state(
    start: Start, streams_io: Streams, store: ContentStore
) -> None:
    start()
    predictions = logged(4)
    early, late = predictions.prediction_ids[:2], predictions.prediction_ids[2:]
    early_labels, late_labels = labels(early, "yes"), labels(late, "no")

    publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, early_labels)
    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, predictions)
    publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, late_labels)

    found = labelled_rows(streams_io, 4)
    by_id = {event.prediction_ids[i]: (event, i) for event, i in found}
    assert len(found) == len(by_id) == 4
    for prediction_id, cause in [(early[0], predictions), (late[0], late_labels)]:
        event, i = by_id[prediction_id]
        assert event.causation_id == cause.event_id  # claimed by the event that completed it
        assert (event.dataset, event.model_version, event.role) == ("demo", 1, "primary")
        row = predictions.prediction_ids.index(prediction_id)
        assert event.predictions[i] == predictions.predictions[row]
        assert event.predicted_at_ms[i] == predictions.predicted_at_ms[row]
    assert [by_id[i][0].labels[by_id[i][1]] for i in predictions.prediction_ids] == [
        "yes",
        "yes",
        "no",
        "no",
    ]
    rows = eventually_sync(
        lambda: len(r := feedback_rows(streams_io, store)) == 4 and r, what="4 feedback rows"
    )
    assert sorted((r.features["income"], r.label) for r in rows) == sorted(
        (predictions.features["income"][i], y) for i, y in enumerate(["yes", "yes", "no", "no"])
    )
    assert join_keys(streams_io) == []


def test_the_join_state_of_a_waiting_prediction_points_at_its_entry_and_holds_no_features(
    start: Start, streams_io: Streams
) -> None:
    start(label_wait_s=600)
    predictions = logged(3)

    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, predictions)

    key = f"{streams_io.namespace}ingest:join:a:{predictions.prediction_ids[2]}"
    packed = streams_io.redis.get(key)
    assert packed is not None
    side = PredictionSide.unpack(packed.decode())
    assert (side.entry_id, side.row) == (entry_id_of(streams_io, predictions), 2)
    assert (side.dataset, side.model_version, side.role, side.prediction) == (
        "demo",
        1,
        "primary",
        "no",
    )
    income = str(predictions.features["income"][2]).encode()
    assert income not in packed and b"income" not in packed
    assert 0 < streams_io.redis.ttl(key) <= 600
    assert len(join_keys(streams_io)) == 3  # one key per waiting prediction, nothing else


@pytest.mark.parametrize("order", ["label last", "label first"])
def test_a_shadow_is_joined_as_its_own_side_and_never_becomes_a_training_row(
    order: str, start: Start, streams_io: Streams, store: ContentStore
) -> None:
    start()
    primary = logged(2)
    shadow = logged(2, role="shadow", version=2, ids=primary.prediction_ids)
    truth = labels(primary.prediction_ids)
    steps = [(streams.PREDICTION_LOGGED, shadow), (streams.PREDICTION_LOGGED, primary)]
    label_step = (streams.FEEDBACK_RECEIVED, truth)
    for stream, event in [*steps, label_step] if order == "label last" else [label_step, *steps]:
        publish_and_wait(streams_io, stream, event)

    found = labelled_rows(streams_io, 4)
    sides = sorted((e.role, e.model_version, str(e.prediction_ids[i])) for e, i in found)
    ids = sorted(str(i) for i in primary.prediction_ids)
    assert sides == [("primary", 1, i) for i in ids] + [("shadow", 2, i) for i in ids]
    rows = eventually_sync(lambda: feedback_rows(streams_io, store), what="feedback rows")
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    assert len(feedback_rows(streams_io, store)) == len(rows) == 2
    assert join_keys(streams_io) == []


@pytest.mark.parametrize("order", ["label, answer, shadow", "answer, label, shadow"])
def test_a_shadow_logged_after_its_answer_was_joined_is_still_joined(
    order: str, start: Start, streams_io: Streams
) -> None:
    # A live trial's labels often come before the predictor's logs, and the shadow's log
    # after the answer's: the label must wait for the shadow too (it had been lost).
    start()
    earlier = logged(1, role="shadow", version=2, seed=9)  # the dataset has a shadow
    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, earlier)
    primary = logged(2)
    shadow = logged(2, role="shadow", version=2, ids=primary.prediction_ids)
    answer = (streams.PREDICTION_LOGGED, primary)
    label = (streams.FEEDBACK_RECEIVED, labels(primary.prediction_ids))
    first, second = (label, answer) if order.startswith("label") else (answer, label)
    for stream, event in (first, second, (streams.PREDICTION_LOGGED, shadow)):
        publish_and_wait(streams_io, stream, event)

    found = labelled_rows(streams_io, 4)
    sides = sorted((e.role, e.model_version, str(e.prediction_ids[i])) for e, i in found)
    ids = sorted(str(i) for i in primary.prediction_ids)
    assert sides == [("primary", 1, i) for i in ids] + [("shadow", 2, i) for i in ids]
    # Nothing left but the earlier shadow, which never got a label.
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    unlabelled = f"{streams_io.namespace}ingest:join:s:{earlier.prediction_ids[0]}"
    assert waiting_sides(streams_io) == [unlabelled.encode()]


def test_without_a_shadow_a_joined_label_leaves_nothing_behind(
    start: Start, streams_io: Streams
) -> None:
    start()
    primary = logged(2)
    publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, labels(primary.prediction_ids))
    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, primary)
    assert len(labelled_rows(streams_io, 2)) == 2
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    assert waiting_sides(streams_io) == []


def waiting_sides(io: Streams) -> list[bytes]:
    """Join keys but the gathered training rows (taken later, by count or time)."""
    return [k for k in join_keys(io) if b":join:rows" not in k]


def evalsha_calls(io: Streams) -> int:
    stats = io.redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0)) + int(
        stats.get("cmdstat_eval", {}).get("calls", 0)
    )


def test_the_join_costs_one_script_call_per_stream_entry(start: Start, streams_io: Streams) -> None:
    start(feedback_rows=1)  # rows taken by the call that joins them: no feedback-due event
    logs = [logged(100, seed=s) for s in range(3)]
    before = evalsha_calls(streams_io)

    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, *logs)
    publish_and_wait(
        streams_io, streams.FEEDBACK_RECEIVED, *(labels(e.prediction_ids) for e in logs)
    )

    assert len(labelled_rows(streams_io, 300)) == 300
    assert evalsha_calls(streams_io) - before == 6
    assert join_keys(streams_io) == []


def test_joined_answers_are_gathered_into_one_version_once_enough_are_joined(
    start: Start, streams_io: Streams, store: ContentStore
) -> None:
    start(feedback_rows=250, feedback_wait_s=600)
    logs = [logged(100, seed=s) for s in range(3)]
    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, *logs)

    for event in logs:  # three deliveries: the third brings the rows gathered to 300
        publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, labels(event.prediction_ids))

    versions = [e for e in streams_io.read(streams.DATA_INGESTED) if e.source == "feedback"]
    assert [v.rows for v in versions] == [300]
    assert len(feedback_rows(streams_io, store)) == 300
    assert join_keys(streams_io) == []


def test_gathered_answers_that_wait_too_long_are_taken_by_a_feedback_due_event(
    start: Start, streams_io: Streams, store: ContentStore
) -> None:
    start(feedback_rows=10_000, feedback_wait_s=1)
    predictions = logged(50)
    publish_and_wait(streams_io, streams.PREDICTION_LOGGED, predictions)

    publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, labels(predictions.prediction_ids))

    rows = eventually_sync(
        lambda: len(r := feedback_rows(streams_io, store)) == 50 and r, what="50 feedback rows"
    )
    assert {r.features["income"] for r in rows} == set(predictions.features["income"])
    eventually_sync(lambda: join_keys(streams_io) == [], what="no join state left")
    assert [e.rows for e in streams_io.read(streams.DATA_INGESTED)] == [50]


@pytest.mark.parametrize("claimant", ["label", "prediction log"])
def test_a_pair_claimed_by_a_delivery_whose_commit_failed_is_emitted_once_by_its_retry(
    claimant: str, start: Start, streams_io: Streams, store: ContentStore
) -> None:
    failpoint = Keys(streams_io.namespace).failpoint("ingest.before_commit")
    streams_io.redis.set(failpoint, "disarmed")  # it fires once per namespace: not yet
    # Rows taken as they are joined: the failed delivery took the row, its retry commits it.
    start(failpoints="ingest.before_commit=error", feedback_rows=1)
    predictions = logged(1)
    ids = predictions.prediction_ids
    if claimant == "label":  # the prediction waits; a label (sent twice) completes the pair
        waiting: tuple[Any, Any] = (streams.PREDICTION_LOGGED, predictions)
        stream, first, resent = streams.FEEDBACK_RECEIVED, labels(ids), labels(ids)
    else:  # the label waits; the prediction log (logged twice) completes the pair
        waiting = (streams.FEEDBACK_RECEIVED, labels(ids))
        stream, first, resent = streams.PREDICTION_LOGGED, predictions, logged(1, ids=ids)
    publish_and_wait(streams_io, *waiting)
    streams_io.redis.delete(failpoint)  # armed: the next commit of ingest fails

    streams_io.publish(stream, first)
    eventually_sync(lambda: streams_io.redis.get(failpoint), what="the failed commit")
    streams_io.publish(stream, resent)  # the pair is claimed already: never emitted again
    streams_io.wait_consumed(stream, GROUP)

    ((event, _),) = labelled_rows(streams_io, 1)
    assert event.event_id == derived_id(first.event_id, "prediction.labelled", "demo/1/primary")
    assert len(streams_io.read(streams.PREDICTION_LABELLED)) == 1
    assert len(feedback_rows(streams_io, store)) == 1


def skipped_trimmed(client: TestClient) -> float:
    text = client.get("/metrics").text
    found = re.search(
        r'driftloop_ingest_feedback_rows_skipped_total\{reason="entry_trimmed"\} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


def test_a_trimmed_entry_gives_its_labelled_event_but_no_training_row(
    start: Start, streams_io: Streams, store: ContentStore
) -> None:
    client = start(entry_cache=1)
    trimmed, evicted, cached = logged(1, seed=1), logged(1, seed=2), logged(1, seed=3)
    for event in (trimmed, evicted, cached):  # the cache keeps only the last one
        publish_and_wait(streams_io, streams.PREDICTION_LOGGED, event)
    streams_io.redis.xdel(
        streams.PREDICTION_LOGGED.key(streams_io.namespace), entry_id_of(streams_io, trimmed)
    )
    before = skipped_trimmed(client)

    ids = [trimmed.prediction_ids[0], evicted.prediction_ids[0]]
    publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, labels(ids))

    assert sorted(str(e.prediction_ids[i]) for e, i in labelled_rows(streams_io, 2)) == sorted(
        map(str, ids)
    )
    (row,) = eventually_sync(lambda: feedback_rows(streams_io, store), what="a feedback row")
    assert row.features["income"] == evicted.features["income"][0]  # read back from its entry
    assert skipped_trimmed(client) == before + 1
    (waiting,) = join_keys(streams_io)  # only the prediction still without a label
    assert waiting.endswith(str(cached.prediction_ids[0]).encode())


def test_a_label_for_an_unknown_prediction_waits_no_longer_than_the_label_wait(
    start: Start, streams_io: Streams
) -> None:
    start(label_wait_s=120)

    publish_and_wait(streams_io, streams.FEEDBACK_RECEIVED, labels([uuid.uuid4()]))

    (key,) = join_keys(streams_io)
    assert key.startswith(f"{streams_io.namespace}ingest:join:l:".encode())
    assert 0 < streams_io.redis.ttl(key) <= 120
    assert streams_io.read(streams.PREDICTION_LABELLED) == []
