"""The console's pages and admin actions over fakes: pages render what the services answer,
a service that is down is named on the page, actions need the CSRF token and the operator's
admin token, and a dead letter's replay checks the token before it moves anything."""

from __future__ import annotations

import hashlib
import re

import pytest
from driftloop_console.bootstrap import build_app
from driftloop_console.settings import ConsoleSettings
from driftloop_contracts import streams
from fastapi.testclient import TestClient

from tests.support.console_world import (
    DRIFT_ID,
    FakeReplayer,
    FakeServices,
    FakeStreams,
    drift_event,
    history,
    lineage,
    promotion,
    version,
)

TOKEN = "an-admin-token-of-the-registry-0123"
RECORDS = streams.INGEST_RECORDS.name


class World:
    def __init__(self, down: set[str] | None = None) -> None:
        versions = [version(1, "retired", 0.84), version(2, "champion", 0.82, "drift")]
        self.services = FakeServices(
            {
                ("ingest", "/v1/datasets"): [{"dataset": "credit", "schema": {"target": {}}}],
                ("registry", "/v1/models"): versions,
                ("registry", "/v1/models?dataset=credit"): versions,
                ("registry", "/v1/models/credit/promotions"): [promotion(1, 0), promotion(2, 90)],
                ("registry", "/v1/models/credit/1/lineage"): lineage(1, None),
                ("registry", "/v1/models/credit/2/lineage"): lineage(2, DRIFT_ID),
                ("monitor", "/v1/drift/credit/history"): history(),
            },
            down,
        )
        self.streams = FakeStreams()
        self.streams.publish(streams.DRIFT_DETECTED.name, drift_event())
        self.replayer = FakeReplayer(self.streams)
        settings = ConsoleSettings(
            admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest(),
            replay_username="console-admin",
            replay_password="a-replay-password-0123456789",
            public_monitor_url="http://monitor.example:8105",
        )
        app = build_app(
            settings, services=self.services, streams=self.streams, replayer=self.replayer
        )
        self.http = TestClient(app, follow_redirects=False)

    def csrf(self, path: str = "/token") -> str:
        page = self.http.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "the page carries a CSRF token"
        return found.group(1)

    def sign_in(self) -> None:
        answer = self.http.post("/token", data={"csrf": self.csrf("/token"), "token": TOKEN})
        assert answer.status_code == 303

    def dead_letter(self, shard: int = 0, entry_id: str = "") -> str:
        return self.streams.add(
            f"{RECORDS}.dlq",
            {
                b"__data__": b'{"event_type":"records.submitted"}',
                b"error": f"no such dataset (shard {shard})".encode(),
                b"group": b"ingest",
                b"attempts": b"1",
                b"entry_id": b"1-0",
            },
            shard,
            entry_id,
        )


@pytest.fixture
def world() -> World:
    return World()


def test_the_datasets_page_shows_each_champion(world: World) -> None:
    page = world.http.get("/")
    assert page.status_code == 200
    assert 'data-dataset="credit"' in page.text and "v2" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_service_that_is_down_is_named_with_what_to_do() -> None:
    page = World(down={"registry"}).http.get("/")
    assert page.status_code == 200
    assert "registry did not answer at" in page.text and "driftloop up" in page.text


def test_the_dataset_page_shows_the_lineage_from_drift_to_promotion(world: World) -> None:
    page = world.http.get("/datasets/credit").text
    assert "data drift on v1" in page and "promoted (gate)" in page
    assert f"http://monitor.example:8105/v1/reports/{DRIFT_ID}" in page, "links on any port"


def test_the_drift_page_draws_the_charts_as_inline_svg(world: World) -> None:
    page = world.http.get("/drift/credit").text
    assert page.count("<svg") == 3 and "income" in page and "<script" not in page


def test_an_action_without_the_csrf_token_is_refused(world: World) -> None:
    world.sign_in()
    answer = world.http.post("/datasets/credit/rollback", data={"csrf": "x" * 30})
    assert "CSRF" in answer.headers["location"] and world.services.acted == []


def test_an_action_before_the_token_was_entered_asks_for_it(world: World) -> None:
    answer = world.http.post("/datasets/credit/rollback", data={"csrf": world.csrf()})
    assert answer.headers["location"].startswith("/token")


def test_an_action_forwards_the_operator_token_to_the_registry(world: World) -> None:
    world.sign_in()
    cookie = world.http.cookies.get("driftloop_admin")
    assert cookie == TOKEN
    world.http.post("/datasets/credit/promote/1", data={"csrf": world.csrf()})
    assert world.services.acted == [("registry", "/v1/models/credit/1/promote", TOKEN)]


def test_the_token_cookie_is_httponly_and_samesite_strict(world: World) -> None:
    answer = world.http.post("/token", data={"csrf": world.csrf("/token"), "token": TOKEN})
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header


def test_a_dead_letter_is_replayed_onto_its_stream_with_the_admin_token(world: World) -> None:
    entry = world.dead_letter()
    world.sign_in()
    answer = world.http.post(f"/dead-letters/{RECORDS}/{entry}/replay", data={"csrf": world.csrf()})
    assert "replayed" in answer.headers["location"]
    assert world.streams.entries[f"{RECORDS}.dlq"] == []
    assert len(world.streams.entries[RECORDS]) == 1


def test_a_dead_letter_of_a_shard_is_shown_and_replayed_in_that_shard(world: World) -> None:
    """With REDIS_SHARDS, entry ids are per shard's key: two shards can hold the same id."""
    entry = world.dead_letter(shard=0)
    world.dead_letter(shard=2, entry_id=entry)
    listed = world.http.get("/dead-letters").text
    assert f"/dead-letters/{RECORDS}/{entry}?shard=2" in listed
    assert "(shard 2)" in world.http.get(f"/dead-letters/{RECORDS}/{entry}?shard=2").text
    world.sign_in()
    path = f"/dead-letters/{RECORDS}/{entry}/replay?shard=2"
    answer = world.http.post(path, data={"csrf": world.csrf()})
    assert "replayed" in answer.headers["location"]
    (kept,) = world.streams.entries[f"{RECORDS}.dlq"]
    assert kept.shard == 0
    assert [e.shard for e in world.streams.entries[RECORDS]] == [2]


def test_a_replay_with_a_wrong_token_moves_nothing(world: World) -> None:
    entry = world.dead_letter()
    world.http.post("/token", data={"csrf": world.csrf("/token"), "token": "w" * 40})
    answer = world.http.post(f"/dead-letters/{RECORDS}/{entry}/replay", data={"csrf": world.csrf()})
    assert answer.headers["location"].startswith("/token")
    assert len(world.streams.entries[f"{RECORDS}.dlq"]) == 1


def test_a_dead_letter_shows_its_reason_and_payload(world: World) -> None:
    entry = world.dead_letter()
    page = world.http.get(f"/dead-letters/{RECORDS}/{entry}").text
    assert "no such dataset" in page and "records.submitted" in page


def test_the_tail_rows_are_served_alone_for_polling(world: World) -> None:
    rows = world.http.get("/events/rows", params={"stream": streams.DRIFT_DETECTED.name})
    assert "drift.detected" in rows.text and "<html" not in rows.text


def test_a_registry_without_the_trials_route_shows_no_trials_and_no_error() -> None:
    world = World()
    world.services.answers[("registry", "/v1/models/credit/trials")] = 422  # read as a version

    page = world.http.get("/datasets/credit").text

    assert "does not list trials" in page and "did not answer" not in page


def test_live_trials_are_listed_when_the_registry_has_them(world: World) -> None:
    world.services.answers[("registry", "/v1/models/credit/trials")] = [
        {
            "trial_id": "t-1",
            "model_version": 2,
            "champion_version": 1,
            "status": "running",
            "stopped_by": None,
            "evidence": {"pairs": 300, "wins": 40, "losses": 12, "lower": -1.6, "upper": 3.0},
        }
    ]
    page = world.http.get("/datasets/credit").text
    assert "t-1" in page and "40 / 12" in page
