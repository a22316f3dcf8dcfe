"""The monitor's history for the console: each tested window and live accuracy over time, per
watched version, bounded, and shown only once a delivery's commit succeeded."""

from __future__ import annotations

from driftloop_drift_monitor.history import dataset_history
from driftloop_drift_monitor.service import MonitorService
from driftloop_drift_monitor.windows import HISTORY_WINDOWS

from .monitor_world import (
    CONFIGS,
    WINDOW,
    FakeReader,
    FakeRedis,
    FakeStore,
    key,
    labels_of,
    logs,
    promotion,
)


def monitor() -> tuple[MonitorService, FakeRedis]:
    redis = FakeRedis()
    return MonitorService(CONFIGS, FakeReader(redis, promotion(1)), FakeStore()), redis


async def test_each_tested_window_is_remembered_with_its_per_feature_evidence() -> None:
    service, redis = monitor()
    redis.commit(await service.on_predictions([logs(WINDOW)]))
    redis.commit(await service.on_predictions([logs(WINDOW, shift=2.0, seed=5)]))

    history = dataset_history(service.watches, "credit")

    assert history is not None
    (version,) = history.versions
    assert [w.window for w in version.windows] == [1, 2]
    first, drifted = version.windows
    assert {e.feature for e in first.data} == {e.feature for e in drifted.data}
    assert max(e.effect or 0 for e in drifted.data) > max(e.effect or 0 for e in first.data)


async def test_live_accuracy_is_sampled_after_each_batch_of_labels() -> None:
    service, redis = monitor()
    predictions = logs(60)
    redis.commit(await service.on_predictions([predictions]))
    redis.commit(await service.on_labelled([labels_of(predictions, right=1.0)]))
    redis.commit(await service.on_labelled([labels_of(predictions, right=0.0, seed=3)]))

    history = dataset_history(service.watches, "credit")

    assert history is not None
    samples = history.versions[0].accuracy
    assert [(s.accuracy, s.labels) for s in samples] == [(1.0, 60), (0.4, 100)], "over the last 100"


async def test_the_history_keeps_only_the_newest_windows() -> None:
    service, redis = monitor()
    for i in range(HISTORY_WINDOWS + 3):
        redis.commit(await service.on_predictions([logs(WINDOW, seed=i)]))

    windows = service.watches[key(1)].windows.history

    assert len(windows) == HISTORY_WINDOWS
    assert windows[-1].window == HISTORY_WINDOWS + 3


def test_a_dataset_nobody_watches_has_no_history() -> None:
    service, _ = monitor()
    assert dataset_history(service.watches, "credit") is None
