"""The demo: the whole loop on a generated dataset, from first rows to a recovered model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from driftloop_contracts import Record, utcnow
from rich.console import Console
from rich.table import Table

from .client import DriftloopClient, Endpoints
from .publisher import EventPublisher
from .redis_users import RedisLogin
from .runner import Stack
from .scenario import CreditScenario, Phase
from .shards import StreamSet
from .timeline import read_timeline

BATCH = 100


class RunningStack(Protocol):
    """What the demo needs of a stack: a local Stack, or one under docker compose."""

    @property
    def endpoints(self) -> Endpoints: ...

    @property
    def redis_url(self) -> str: ...

    namespace: str

    def check_alive(self) -> None: ...

    def login(self, user: str) -> RedisLogin:
        """How `user` (client, admin) logs in to the stack's Redis."""
        ...

    def streams(self, user: str) -> StreamSet:
        """Every shard of the stack's streams, read as `user`."""
        ...


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, right: int, total: int) -> None:
        self.right += right
        self.total += total

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else float("nan")


@dataclass
class DemoResult:
    accuracy_before: float
    accuracy_after_v1: float
    accuracy_after_new: float
    new_version: int
    rows_until_swap: int
    timeline: list[Any] = field(default_factory=list)
    correlated: bool = False

    @property
    def recovered(self) -> bool:
        return self.new_version >= 2 and self.accuracy_after_new > self.accuracy_after_v1 + 0.1


class DemoPlayer:
    def __init__(
        self, stack: RunningStack, console: Console, seed: int = 7, pace_rows_per_s: float = 1500
    ) -> None:
        self.stack = stack
        self.console = console
        self.scenario = CreditScenario(seed)
        self.client = DriftloopClient(stack.endpoints)
        self.pace = pace_rows_per_s

    def say(self, text: str) -> None:
        self.console.print(f"[bold cyan]demo[/] {text}")

    def wait_for_model(self, min_version: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.stack.check_alive()
            try:
                version = int(self.client.serving_model()["model_version"])
                if version >= min_version:
                    return version
            except Exception:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"no model v{min_version}+ served after {timeout}s")

    def serve(self, phase: Phase, rows: int, tallies: dict[int, Tally]) -> int:
        """Predict `rows` rows over HTTP, then send their true labels; returns last version."""
        version = 0
        for _ in range(rows // BATCH):
            started = time.monotonic()
            data = self.scenario.draw(BATCH, phase)
            answer = self.client.predict_batch(data.features)
            version = answer["model_version"]
            predictions = answer["predictions"]
            right = sum(p["prediction"] == y for p, y in zip(predictions, data.labels, strict=True))
            tallies.setdefault(version, Tally()).add(right, BATCH)
            self.client.send_labels(
                [
                    {"prediction_id": p["prediction_id"], "label": y}
                    for p, y in zip(predictions, data.labels, strict=True)
                ]
            )
            time.sleep(max(0.0, BATCH / self.pace - (time.monotonic() - started)))
        return version

    def play(self, initial_rows: int = 2000, max_drift_rows: int = 20_000) -> DemoResult:
        publisher = EventPublisher(
            self.stack.redis_url, namespace=self.stack.namespace, login=self.stack.login("client")
        )
        data = self.scenario.draw(initial_rows, "before")
        now = utcnow()
        records = [
            Record(features=f, label=y, observed_at=now)
            for f, y in zip(data.features, data.labels, strict=True)
        ]
        publisher.submit_records("demo", records)
        publisher.close()
        self.say(f"published {initial_rows} labelled rows to ingest.records.v1; waiting for v1")
        self.wait_for_model(1, timeout=120)
        self.say("v1 serves; predicting 1,000 rows before the drift")
        before: dict[int, Tally] = {}
        self.serve("before", 1000, before)
        self.say(
            "drift: incomes fall and the risk of utilization reverses; "
            "predicting until a new model serves"
        )
        after: dict[int, Tally] = {}
        served = 0
        version = 1
        while version < 2:
            if served >= max_drift_rows:
                raise TimeoutError(f"no retrained model after {served} post-drift rows")
            version = self.serve("after", 500, after)
            served += 500
        self.say(f"v{version} serves after {served} post-drift rows; predicting 1,000 more")
        recovered: dict[int, Tally] = {}
        self.serve("after", 1000, recovered)
        return DemoResult(
            accuracy_before=before[1].accuracy,
            accuracy_after_v1=after.get(1, Tally()).accuracy,
            accuracy_after_new=recovered[max(recovered)].accuracy,
            new_version=max(recovered),
            rows_until_swap=served,
        )


def report(console: Console, stack: RunningStack, result: DemoResult, started_ms: int) -> bool:
    shards = stack.streams("admin")
    try:
        moments, counts = read_timeline(shards)
    finally:
        shards.redis.close()
    table = Table(title="timeline")
    for column in ("elapsed s", "event", "service", "detail"):
        table.add_column(column)
    for m in moments:
        table.add_row(
            f"{(m.at_ms - started_ms) / 1000:7.2f}",
            m.event["event_type"],
            m.event.get("producer", ""),
            m.detail(),
        )
    console.print(table)
    console.print("stream volumes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    drift_ids = {m.event["event_id"] for m in moments if m.event["event_type"] == "drift.detected"}
    promoted = [
        m.event
        for m in moments
        if m.event["event_type"] == "model.promoted"
        and m.event["model_version"] == result.new_version
    ]
    result.correlated = bool(promoted and promoted[0]["correlation_id"] in drift_ids)
    figures = Table(title="accuracy of the served model")
    figures.add_column("phase")
    figures.add_column("model")
    figures.add_column("accuracy", justify="right")
    figures.add_row("before drift", "v1", f"{result.accuracy_before:.3f}")
    figures.add_row("after drift", "v1", f"{result.accuracy_after_v1:.3f}")
    figures.add_row("after drift", f"v{result.new_version}", f"{result.accuracy_after_new:.3f}")
    console.print(figures)
    console.print(
        f"promotion of v{result.new_version} carries the drift event's correlation id: "
        f"{result.correlated}"
    )
    return result.recovered and result.correlated


def run_demo(state_dir: Path, seed: int = 7, console: Console | None = None) -> bool:
    console = console or Console()
    started_ms = int(time.time() * 1000)
    env = {"LOG_LEVEL": "WARNING", "TRAINER_MIN_INITIAL_ROWS": "2000"}
    with Stack(state_dir, schemas=(CreditScenario.schema,), env=env) as stack:
        console.print(
            f"[bold]stack up[/]: redis {stack.redis_url}, services "
            + ", ".join(f"{n}:{p}" for n, p in stack.ports.items())
        )
        result = DemoPlayer(stack, console, seed).play()
        ok = report(console, stack, result, started_ms)
    console.print("[bold green]loop closed[/]" if ok else "[bold red]loop did not close[/]")
    return ok
