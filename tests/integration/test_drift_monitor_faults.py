"""The drift monitor when things fail: a drift event is never lost, rows are never counted
twice, and a restart starts from the registry's serving state.

Each test here failed on the monitor before issue 9 (the fired kind was remembered before the
report was stored and the commit made, so a retry skipped it; rows were added before the
commit, so a retry added them again; rendering raised on extreme values)."""

from __future__ import annotations

from pathlib import Path

import pytest
from driftloop_bus import Keys
from driftloop_contracts import ModelPromoted, TrainingCompleted, streams
from driftloop_core import ContentStore
from driftloop_drift_monitor.bootstrap import GROUP
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, promoted, trained
from tests.support.predictions import prediction_log
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

from .monitor_support import WINDOW, GatedStore, logged, running, watch_of

FAILPOINT = "drift-monitor.before_commit"


@pytest.fixture
def run(tmp_path: Path) -> TrainingCompleted:
    return trained(ContentStore(str(tmp_path / "store")), labelled_rows(1000))


@pytest.fixture
def v1(streams_io: Streams, run: TrainingCompleted) -> ModelPromoted:
    event = promoted(run)
    streams_io.publish(streams.MODEL_PROMOTED, event)
    return event


def gated(tmp_path: Path, **kw: object) -> GatedStore:
    return GatedStore(str(tmp_path / "store"), **kw)  # type: ignore[arg-type]


def kinds(io: Streams) -> list[str]:
    return sorted(e.kind for e in io.read(streams.DRIFT_DETECTED))


def settle(client: TestClient, io: Streams, store: ContentStore, run: TrainingCompleted) -> None:
    """A committed stationary window: the watch exists, nothing fired."""
    event, _ = logged(store, run, WINDOW, "before", 10)
    io.publish(streams.PREDICTION_LOGGED, event)
    io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    watch = watch_of(client)
    assert watch is not None and watch["fired"] == [] and watch["windows"]["tested"] == 1


def test_a_drift_event_whose_report_could_not_be_stored_is_published_on_the_retry(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    streams_io: Streams,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    store = gated(tmp_path, fail_first=True, hold_from=2)
    with running(redis_url, namespace, store) as client:
        settle(client, streams_io, store, run)
        shifted, _ = logged(store, run, WINDOW, "after", 11)
        streams_io.publish(streams.PREDICTION_LOGGED, shifted)
        # The first put failed; the retry is now holding its own put, uncommitted.
        eventually_sync(
            lambda: store.report_puts >= 2, what="the retry to store its report", timeout=30
        )

        watch = watch_of(client)
        assert watch is not None
        assert watch["fired"] == [], "not fired before the event is committed"
        assert watch["windows"]["tested"] == 1, "the failed delivery left the windows alone"
        assert streams_io.read(streams.DRIFT_DETECTED) == []

        store.released.set()
        streams_io.wait(streams.DRIFT_DETECTED)
        streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
        published = kinds(streams_io)
        assert "data" in published and len(published) == len(set(published))
        watch = watch_of(client)
        assert watch is not None and watch["fired"] == published
        assert watch["windows"]["tested"] == 2
        for event in streams_io.read(streams.DRIFT_DETECTED):
            assert client.get(f"/v1/reports/{event.event_id}").status_code == 200


def test_a_failed_commit_leaves_memory_unchanged_and_the_retry_publishes_once(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    streams_io: Streams,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    """The `error` failpoint: the commit raises, the process lives on."""
    store = gated(tmp_path, hold_from=3)  # the retry's first report waits for the test
    failpoint = Keys(namespace).failpoint(FAILPOINT)
    with running(redis_url, namespace, store, failpoints=f"{FAILPOINT}=error") as client:
        shifted, _ = logged(store, run, WINDOW, "after", 12)
        streams_io.publish(streams.PREDICTION_LOGGED, shifted)
        eventually_sync(lambda: streams_io.redis.exists(failpoint), what="the failed commit")
        eventually_sync(lambda: store.report_puts >= 3, what="the retry to store a report")

        assert client.get("/v1/drift").json()["watching"] is False, "nothing was committed"
        assert streams_io.read(streams.DRIFT_DETECTED) == []

        store.released.set()
        streams_io.wait(streams.DRIFT_DETECTED)
        streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
        published = kinds(streams_io)
        assert published == ["data", "prediction"], "each kind once"
        watch = watch_of(client)
        assert watch is not None
        assert watch["fired"] == published
        assert (watch["windows"]["filling"], watch["windows"]["tested"]) == (WINDOW, 1)


def test_a_retried_delivery_adds_its_rows_once(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    streams_io: Streams,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    store = ContentStore(str(tmp_path / "store"))
    with running(redis_url, namespace, store, failpoints=f"{FAILPOINT}=error") as client:
        event, _ = logged(store, run, 150, "before", 13)
        streams_io.publish(streams.PREDICTION_LOGGED, event)
        streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)

        assert streams_io.redis.exists(Keys(namespace).failpoint(FAILPOINT)), "a commit failed"
        watch = watch_of(client)
        assert watch is not None
        assert (watch["windows"]["filling"], watch["windows"]["tested"]) == (150, 0)


def test_extreme_values_in_a_drifting_window_still_publish_the_event_and_its_report(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    streams_io: Streams,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    store = ContentStore(str(tmp_path / "store"))
    with running(redis_url, namespace, store) as client:
        settle(client, streams_io, store, run)
        shifted, _ = logged(store, run, WINDOW - 3, "after", 14)
        rows = [{**shifted_row(shifted, i)} for i in range(3)]
        for row, extreme in zip(rows, (1e308, -1e308, 1.7e308), strict=True):
            row["income"] = extreme
        streams_io.publish(
            streams.PREDICTION_LOGGED, shifted, prediction_log("demo", 1, rows, "yes")
        )

        drift = next(e for e in streams_io.wait(streams.DRIFT_DETECTED) if e.kind == "data")
        page = client.get(f"/v1/reports/{drift.event_id}")
        assert page.status_code == 200
        assert "income" in page.text and "<svg" in page.text
        streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
        watch = watch_of(client)
        assert watch is not None and "data" in watch["fired"]


def shifted_row(event: object, i: int) -> dict[str, object]:
    columns = event.features  # type: ignore[attr-defined]
    return {name: values[i] for name, values in columns.items()}


@pytest.mark.parametrize("last_entry", ["another dataset", "garbage"])
def test_a_restarted_monitor_watches_from_the_serving_state_whatever_the_last_promotion_entry(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    streams_io: Streams,
    run: TrainingCompleted,
    v1: ModelPromoted,
    last_entry: str,
) -> None:
    store = ContentStore(str(tmp_path / "store"))
    with running(redis_url, namespace, store) as client:
        settle(client, streams_io, store, run)
    if last_entry == "garbage":
        streams_io.redis.xadd(streams.MODEL_PROMOTED.key(namespace), {b"__data__": b"{not json"})
    else:
        other = promoted(run, version=5, dataset="other")
        streams_io.publish(streams.MODEL_PROMOTED, other)

    with running(redis_url, namespace, store) as client:
        shifted, _ = logged(store, run, WINDOW, "after", 15)
        streams_io.publish(streams.PREDICTION_LOGGED, shifted)
        drift = streams_io.wait(streams.DRIFT_DETECTED)[0]
        assert (drift.dataset, drift.model_version) == ("demo", 1)
        watch = watch_of(client)
        assert watch is not None
        assert watch["promotion_id"] == str(v1.event_id)
