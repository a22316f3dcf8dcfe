"""The monitor's decisions in pure code: which versions are watched, what a delivery changes,
which drift events it announces, and which watches it forgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from driftloop_contracts import derived_id
from driftloop_drift_monitor.config import Limits, SameForEvery, WatchConfig
from driftloop_drift_monitor.policy import (
    Announce,
    Effect,
    Ignore,
    Install,
    Snapshot,
    Unservable,
    by_version,
    evicted,
    on_labelled,
    on_logged,
)
from driftloop_drift_monitor.watch import Watch, WatchKey, new_watch
from driftloop_drift_monitor.windows import DriftConfig

from .monitor_world import (
    CONFIGS,
    PROFILE,
    WINDOW,
    key,
    labels_of,
    logs,
    promotion,
    serving,
)

V1 = promotion(1)
NOW = datetime(2024, 1, 2, tzinfo=UTC)


def decide_logged(snapshot: Snapshot, *events: object, configs: object = CONFIGS) -> list[Effect]:
    batches, ignored = by_version(events)  # type: ignore[arg-type]
    return [*ignored, *on_logged(snapshot, batches, configs)]  # type: ignore[arg-type]


def decide_labelled(snapshot: Snapshot, *events: object) -> list[Effect]:
    batches, ignored = by_version(events)  # type: ignore[arg-type]
    return [*ignored, *on_labelled(snapshot, batches, CONFIGS)]


def install(effects: Sequence[Effect]) -> Install:
    (found,) = [e for e in effects if isinstance(e, Install)]
    return found


def announced(effects: Sequence[Effect]) -> list[Announce]:
    return [e for e in effects if isinstance(e, Announce)]


def ignored(effects: Sequence[Effect]) -> list[Ignore]:
    return [e for e in effects if isinstance(e, Ignore)]


def held(*watches: Watch) -> dict[WatchKey, Watch]:
    return {w.key: w for w in watches}


def watching(promoted: object = V1, seen: int = 1) -> Watch:
    p = promoted  # a ModelPromoted
    return new_watch(
        key(p.model_version, p.dataset),  # type: ignore[attr-defined]
        p,  # type: ignore[arg-type]
        PROFILE,
        CONFIGS.config,
        seen=seen,
    )


# ----------------------------------------------------------- what is watched


def test_rows_of_a_promoted_version_start_a_watch_of_that_promotion() -> None:
    snapshot = Snapshot(watches={}, serving=serving(V1), seq=1, now=NOW)

    effects = decide_logged(snapshot, logs(60))

    watch = install(effects).watches[key(1)]
    assert watch.promotion == V1
    assert watch.performance.baseline == V1.metrics.accuracy
    assert watch.windows.filling == 60
    assert watch.last_seen == 1
    assert announced(effects) == []


def test_rows_of_a_version_missing_from_the_serving_state_are_ignored_not_watched() -> None:
    snapshot = Snapshot(
        watches={}, serving={key(7): Unservable("no_promotion", "absent")}, seq=1, now=NOW
    )

    effects = decide_logged(snapshot, logs(60, version=7, shift=3.0))

    assert install(effects).watches == {}
    assert [(e.key, e.rows, e.reason) for e in ignored(effects)] == [(key(7), 60, "no_promotion")]
    assert announced(effects) == []


def test_canary_and_shadow_rows_are_not_what_the_champion_sees() -> None:
    snapshot = Snapshot(watches={}, serving=serving(V1), seq=1, now=NOW)

    effects = decide_logged(snapshot, logs(10, role="canary"), logs(20, role="shadow"), logs(30))

    assert [(e.reason, e.detail, e.rows) for e in ignored(effects)] == [
        ("role", "canary", 10),
        ("role", "shadow", 20),
    ]
    assert install(effects).watches[key(1)].windows.filling == 30


def test_the_version_the_logs_carry_is_watched_whatever_else_was_promoted() -> None:
    """v2 is promoted but the predictor kept serving v1: v1 is what is watched."""
    snapshot = Snapshot(watches={}, serving=serving(V1), seq=1, now=NOW)

    effects = decide_logged(snapshot, logs(WINDOW, shift=2.0))

    (announce, *_) = announced(effects)
    assert announce.event.model_version == 1
    assert list(install(effects).watches) == [key(1)]


def test_every_dataset_is_watched_with_the_configuration_looked_up_for_it() -> None:
    class PerDataset:
        limits = Limits()

        def of(self, dataset: str) -> WatchConfig:
            size = 50 if dataset == "small" else 80
            return WatchConfig(windows=DriftConfig(window_size=size))

    small = promotion(1, dataset="small")
    snapshot = Snapshot(watches={}, serving=serving(V1, small), seq=1, now=NOW)

    effects = decide_logged(snapshot, logs(10), logs(10, dataset="small"), configs=PerDataset())

    watches = install(effects).watches
    assert watches[key(1, "small")].windows.window_size == 50
    assert watches[key(1)].windows.window_size == 80


# ------------------------------------------------------ copy-on-write, retries


def test_a_decision_never_changes_the_watches_it_was_given() -> None:
    before = watching()
    snapshot = Snapshot(watches=held(before), serving=serving(V1), seq=2, now=NOW)

    effects = decide_logged(snapshot, logs(WINDOW, shift=2.0))

    assert before.windows.filling == 0 and before.windows.windows_tested == 0
    assert before.fired == frozenset()
    after = install(effects).watches[key(1)]
    assert after.windows.filling == WINDOW and after.windows.windows_tested == 1
    assert "data" in after.fired


def test_deciding_again_on_the_same_snapshot_adds_the_rows_once_and_announces_the_same_events() -> (
    None
):
    """A retry after a failed handler or commit sees the same memory: same outcome."""
    snapshot = Snapshot(watches=held(watching()), serving=serving(V1), seq=2, now=NOW)
    delivery = logs(WINDOW + 30, shift=2.0)

    first = decide_logged(snapshot, delivery)
    retry = decide_logged(snapshot, delivery)

    assert [a.event for a in announced(first)] == [a.event for a in announced(retry)]
    for effects in (first, retry):
        assert install(effects).watches[key(1)].windows.filling == WINDOW
        assert install(effects).watches[key(1)].windows.windows_tested == 1


# ---------------------------------------------------------------- announcing


def test_a_finding_of_a_new_kind_is_announced_once_with_an_id_derived_from_the_promotion() -> None:
    snapshot = Snapshot(watches=held(watching()), serving=serving(V1), seq=2, now=NOW)

    effects = decide_logged(snapshot, logs(WINDOW, shift=2.0), logs(WINDOW, shift=2.0, seed=3))

    (announce,) = announced(effects)  # two windows drifted, one event
    event = announce.event
    assert event.kind == "data"
    assert event.event_id == derived_id("drift", V1.event_id, "data")
    assert event.report_url == f"http://monitor.test/v1/reports/{event.event_id}"
    assert announce.promotion_id == V1.event_id
    assert {e.feature for e in event.evidence if e.drifted} == {"x"}
    assert install(effects).watches[key(1)].fired == {"data"}


def test_a_kind_another_replica_fired_is_not_announced_again() -> None:
    snapshot = Snapshot(
        watches=held(watching()), serving=serving(V1, fired=["data"]), seq=2, now=NOW
    )

    effects = decide_logged(snapshot, logs(WINDOW, shift=2.0))

    assert announced(effects) == []
    assert install(effects).watches[key(1)].fired == {"data"}


def test_a_kind_this_watch_fired_is_not_announced_again() -> None:
    fired = replace(watching(), fired=frozenset({"data"}))
    snapshot = Snapshot(watches=held(fired), serving=serving(V1), seq=2, now=NOW)

    assert announced(decide_logged(snapshot, logs(WINDOW, shift=2.0))) == []


def test_a_new_promotion_of_the_same_version_starts_a_fresh_watch() -> None:
    """A rollback re-promotes a version: new baseline, new windows, kinds may fire again."""
    old = replace(watching(), fired=frozenset({"data"}))
    again = promotion(1, accuracy=0.8)
    snapshot = Snapshot(watches=held(old), serving=serving(again), seq=2, now=NOW)

    effects = decide_logged(snapshot, logs(WINDOW, shift=2.0))

    watch = install(effects).watches[key(1)]
    assert watch.promotion == again
    assert watch.performance.baseline == 0.8
    assert watch.windows.windows_tested == 1
    assert [a.event.kind for a in announced(effects)] == ["data"]
    assert announced(effects)[0].event.event_id == derived_id("drift", again.event_id, "data")


# -------------------------------------------------------------------- labels


def test_labels_of_a_watched_version_that_are_mostly_wrong_raise_performance_drift() -> None:
    snapshot = Snapshot(watches=held(watching()), serving=serving(V1), seq=2, now=NOW)
    predictions = logs(80)

    effects = decide_labelled(snapshot, labels_of(predictions, right=0.2))

    (announce,) = announced(effects)
    assert announce.event.kind == "performance"
    watch = install(effects).watches[key(1)]
    assert watch.performance.labels == 80
    assert watch.fired == {"performance"}
    assert watch.last_seen == 1, "labels do not make a version recently seen"
    assert snapshot.watches[key(1)].performance.labels == 0


def test_labels_as_right_as_promised_raise_nothing() -> None:
    snapshot = Snapshot(watches=held(watching()), serving=serving(V1), seq=2, now=NOW)

    effects = decide_labelled(snapshot, labels_of(logs(80), right=0.95))

    assert announced(effects) == []
    assert install(effects).watches[key(1)].performance.accuracy is not None


def test_labels_of_a_version_not_watched_are_ignored() -> None:
    snapshot = Snapshot(watches={}, serving={}, seq=1, now=NOW)

    effects = decide_labelled(snapshot, labels_of(logs(30, version=4), right=0.0))

    assert [(e.key, e.rows, e.reason) for e in ignored(effects)] == [(key(4), 30, "not_watched")]
    assert install(effects).watches == {}


# ------------------------------------------------------------------ eviction


def test_a_dataset_keeps_only_its_most_recently_seen_versions() -> None:
    v1, v2 = watching(promotion(1), seen=1), watching(promotion(2), seen=2)
    snapshot = Snapshot(
        watches=held(v1, v2),
        serving=serving(promotion(1), promotion(2), promotion(3)),
        seq=3,
        now=NOW,
    )

    effects = decide_logged(snapshot, logs(10, version=3))

    assert install(effects).evict == (key(1),)


def test_beyond_max_watches_the_least_recently_seen_go_first() -> None:
    watches = {
        WatchKey(f"d{i}", 1): replace(watching(promotion(1, dataset=f"d{i}")), last_seen=i)
        for i in range(5)
    }
    limits = Limits(versions_per_dataset=2, max_watches=3)

    gone = evicted(watches, {}, limits)

    assert gone == (WatchKey("d0", 1), WatchKey("d1", 1))


def test_watches_within_the_limits_are_kept() -> None:
    config = SameForEvery(limits=Limits(versions_per_dataset=2, max_watches=4))

    assert evicted(held(watching(promotion(1)), watching(promotion(2))), {}, config.limits) == ()
