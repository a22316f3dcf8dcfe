"""A real browser (Debian's Chromium, driven by Playwright for Python) against a real stack
with its console: the demo scenario played once per module, screenshots into
docs/screenshots/ (the README links them)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from driftloop_contracts import Record, streams, utcnow
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import CreditScenario
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.test_loop import FAST_LOOP, serve
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: An entry no consumer can read (records must be a list): ingest dead-letters it at once.
MALFORMED = b'{"event_type": "records.submitted", "dataset": "demo", "records": "oops"}'


#: The e2e loop's settings, with a smaller first model (the browser tests' budget is ~30 s).
FAST = {**FAST_LOOP, "TRAINER_MIN_INITIAL_ROWS": "500"}


@dataclass(frozen=True)
class Played:
    stack: Stack
    url: str  # the console's
    dead_letter: str  # its entry id in ingest.records.v1.dlq


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium: `make tools` installs Debian's chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    """v1 trained, promoted and served; the drift detected; one dead letter. (The retrain
    that follows takes longer than this tier's budget: tests/e2e/test_loop.py covers it.)"""
    namespace = f"browser-{tmp_path_factory.mktemp('ns').name}:"
    with Stack(
        tmp_path_factory.mktemp("stack") / "state",
        schemas=(CreditScenario.schema,),
        redis_persistent=False,
        namespace=namespace,
        env=FAST,
        sink=None,
        console=True,
    ) as stack:
        play(stack, namespace)
        entry = dead_letter(stack, namespace)
        yield Played(stack, stack.url("console"), entry)


def play(stack: Stack, namespace: str) -> None:
    scenario = CreditScenario(seed=21)
    initial = scenario.draw(600, "before")
    publisher = EventPublisher(
        stack.redis_url, namespace=stack.namespace, login=stack.login("client")
    )
    now = utcnow()
    records = [
        Record(features=f, label=y, observed_at=now)
        for f, y in zip(initial.features, initial.labels, strict=True)
    ]
    publisher.submit_records("demo", records)
    publisher.close()
    with DriftloopClient(stack.endpoints) as client:
        eventually_sync(lambda: _serving(client) == 1, timeout=60, what="v1 served")
        serve(client, scenario, "before", 200)
        serve(client, scenario, "after", 400)
    io = Streams(stack.redis_url, namespace, stack.login("admin"))
    try:
        io.wait(streams.DRIFT_DETECTED, timeout=30)
    finally:
        io.close()


def dead_letter(stack: Stack, namespace: str) -> str:
    with stack.connect("admin") as redis:
        redis.xadd(f"{namespace}{streams.INGEST_RECORDS.name}", {b"__data__": MALFORMED})
    io = Streams(stack.redis_url, namespace, stack.login("admin"))
    try:
        eventually_sync(lambda: io.dead_letters(streams.INGEST_RECORDS), what="a dead letter")
    finally:
        io.close()
    with stack.connect("admin") as redis:
        dlq = f"{namespace}{streams.INGEST_RECORDS.name}.dlq"
        ((entry_id, _),) = redis.xrange(dlq)
    return str(entry_id.decode())


def _serving(client: DriftloopClient) -> int:
    try:
        return int(client.serving_model()["model_version"])
    except Exception:
        return 0
