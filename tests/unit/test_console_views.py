"""The console's view models: what each page shows, from the services' answers."""

from __future__ import annotations

from driftloop_console.lineage import chain_is_whole, lineage_chain
from driftloop_console.ports import Entry
from driftloop_console.tail import Filters, dead_letter_row, tail_rows
from driftloop_console.timeline import FLOOR, timeline
from driftloop_console.views import _num, dataset_rows, rollout_view, trial_rows, version_rows

from tests.support.console_world import (
    DRIFT_ID,
    drift_event,
    history,
    lineage,
    promotion,
    version,
)

REGISTRATION = {"dataset": "credit", "schema": {"target": {"kind": "classification"}}}
MONITOR = {
    "datasets": {
        "credit": {
            "serving_version": 1,
            "versions": [
                {"model_version": 1, "performance": {"live_accuracy": 0.51, "labels": 200}}
            ],
        }
    }
}


def test_a_dataset_shows_its_champion_live_accuracy_last_drift_and_serving_lag() -> None:
    versions = [version(1, "retired", 0.84), version(2, "champion", 0.82)]

    (row,) = dataset_rows([REGISTRATION], versions, MONITOR, [drift_event()])

    assert (row.name, row.champion, row.measure) == ("credit", 2, "accuracy")
    assert row.last_drift is not None and row.last_drift.features == ("income",)
    assert row.lag == "v1 still answering, v2 promoted"


def test_live_accuracy_well_under_the_promoted_one_is_marked_worse() -> None:
    (row,) = dataset_rows([REGISTRATION], [version(1, "champion", 0.84)], MONITOR, [])

    assert (row.live, row.promoted_with, row.worse) == ("0.510", "0.840", True)
    assert row.lag == "in step"


def test_a_regression_dataset_is_measured_by_its_live_mae() -> None:
    registration = {"dataset": "houses", "schema": {"target": {"kind": "regression"}}}
    champion = {**version(1, "champion", 0.0), "dataset": "houses"}
    champion["metrics"] = {**champion["metrics"], "mae": 10.0}
    monitor = {
        "datasets": {
            "houses": {
                "serving_version": 1,
                "versions": [{"model_version": 1, "performance": {"live_mae": 14.2, "labels": 90}}],
            }
        }
    }

    (row,) = dataset_rows([registration], [champion], monitor, [])

    assert (row.measure, row.live, row.worse) == ("MAE", "14.200", True)


def test_a_dataset_known_only_to_ingest_shows_no_model_yet() -> None:
    (row,) = dataset_rows([REGISTRATION], [], None, [])
    assert (row.champion, row.lag, row.live) == (None, "no model yet", "—")


def test_versions_come_newest_first_with_the_gate_evidence_against_the_champion() -> None:
    rows = version_rows([version(1, "retired", 0.84), version(2, "champion", 0.82)])

    assert [r.version for r in rows] == [2, 1]
    assert rows[0].decision == "promote" and rows[0].judged_against == 1
    assert ("accuracy", "0.8200", "0.5100") in rows[0].evidence


def test_a_drift_retrain_lineage_runs_from_the_drift_event_to_the_promotion() -> None:
    steps = lineage_chain(lineage(2, DRIFT_ID), [drift_event()], "http://monitor:9")

    assert [s.stage for s in steps] == ["drift", "run", "registration", "promotion"]
    assert steps[0].link == f"http://monitor:9/v1/reports/{DRIFT_ID}"
    assert chain_is_whole(steps)


def test_an_initial_model_lineage_has_no_drift_step() -> None:
    steps = lineage_chain(lineage(1, None), [drift_event()], "http://monitor:9")
    assert [s.stage for s in steps] == ["run", "registration", "promotion"]
    assert not chain_is_whole(steps)


def test_a_rollback_is_offered_only_when_a_previous_champion_exists() -> None:
    assert not rollout_view(None, [promotion(1, 10)]).can_roll_back
    assert rollout_view(None, [promotion(1, 10), promotion(2, 20)]).can_roll_back


def test_a_canary_shows_its_share() -> None:
    rollout = {"stage": "canary", "model_version": 3, "share": 0.1, "started_at": "2026-01-05"}
    view = rollout_view(rollout, [])
    assert (view.stage, view.version, view.share) == ("canary", 3, "10%")


def test_trials_show_their_evidence_as_the_registry_lists_it() -> None:
    trial = {
        "trial_id": "t1",
        "model_version": 3,
        "champion_version": 2,
        "status": "promoted",
        "stopped_by": "evidence",
        "reason": "the challenger won 60 of 91 discordant pairs",
        "evidence": {
            "pairs": 412,
            "wins": 60,
            "losses": 31,
            "ties": 321,
            "statistic": 3.1,
            "lower": -1.61,
            "upper": 3.0,
        },
    }
    (row,) = trial_rows([trial])
    assert (row.version, row.state, row.record, row.pairs) == (
        "v3 vs v2",
        "promoted (evidence)",
        "60 / 31",
        "412",
    )
    assert row.boundary == f"{_num(-1.61)} / {_num(3.0)}"
    assert row.reason.startswith("the challenger won")


def test_the_drift_timeline_has_a_series_per_feature_and_marks_promotions_and_drifts() -> None:
    t = timeline("credit", history(), [promotion(1, 0)], [drift_event()], "http://m")

    assert t.windows == 5
    assert [s.name for s in t.p_values] == ["income", "age", "prediction"]
    income = t.p_values[0].points
    assert income[-1][1] == 1e-9 and all(v >= FLOOR for _, v in income)
    assert [m.label for m in t.promotions] == ["v1 promoted (gate)"]
    assert [m.label for m in t.drifts] == ["data drift on v1"]
    assert t.events[0].strongest.startswith("income: effect 0.800")


def test_the_tail_is_newest_first_filtered_and_keeps_whole_entry_ids() -> None:
    entries = [
        Entry(
            "data.ingested.v1",
            "1795990671000-0",
            {b"__data__": b'{"event_type":"data.ingested","dataset":"credit"}'},
        ),
        Entry(
            "data.ingested.v1",
            "1795990671001-12",
            {b"__data__": b'{"event_type":"data.ingested","dataset":"other"}'},
        ),
        Entry("ingest.records.v1", "1795990671002-0", {b"__data__": b"not json"}),
    ]

    rows = tail_rows(entries, Filters(), 10)
    assert [r.entry_id for r in rows] == ["1795990671002-0", "1795990671001-12", "1795990671000-0"]
    assert rows[0].event_type == "(not a JSON event)"
    assert [r.dataset for r in tail_rows(entries, Filters(dataset="credit"), 10)] == ["credit"]


def test_a_dead_letter_row_shows_the_reason_and_whether_it_can_be_replayed() -> None:
    fields = {
        b"__data__": b'{"event_type":"records.submitted"}',
        b"error": b"bad label",
        b"group": b"ingest",
        b"attempts": b"1",
        b"entry_id": b"1-0",
        b"truncated": b"1",
    }

    row = dead_letter_row("ingest.records.v1", Entry("ingest.records.v1.dlq", "2-0", fields))

    assert (row.error, row.group, row.truncated, row.event_type) == (
        "bad label",
        "ingest",
        True,
        "records.submitted",
    )
