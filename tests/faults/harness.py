"""What every fault scenario shares: a stack of real service processes, records whose rows can
be told apart, counting effects, and the result row of the table."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from driftloop_contracts import Record, RecordsSubmitted, streams, utcnow
from driftloop_contracts.datasets import loads
from driftloop_core import ContentStore
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import SCHEMA, CreditScenario

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

FAST_ENV = {
    "LOG_LEVEL": "WARNING",
    "DRIFTLOOP_RECLAIM_IDLE_MS": "1000",
    "DRIFTLOOP_MAINTENANCE_S": "0.5",
    "DRIFTLOOP_MAX_ATTEMPTS": "3",
    "TRAINER_MIN_INITIAL_ROWS": "300",
    "PREDICTOR_LOG_FLUSH_MS": "50",
}


@dataclass
class Result:
    scenario: str
    events_in: int
    effects_out: int
    lost: int
    duplicated: int
    recover_s: float | None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


@dataclass
class Context:
    """Where a scenario runs: a scratch directory, a Redis (or none: the stack embeds one)."""

    workdir: Path
    redis_url: str | None
    full: bool = False  # `make faults` runs the long variants (Redis down for 30 s, ...)

    def namespace(self) -> str:
        return f"f{uuid.uuid4().hex[:8]}:"


@contextmanager
def stack(
    ctx: Context,
    *,
    services: Sequence[str],
    env: Mapping[str, str] | None = None,
    own_redis: bool = False,
    redis_persistent: bool = True,
    replicas: Mapping[str, int] | None = None,
) -> Iterator[tuple[Stack, Streams, ContentStore]]:
    """A supervised stack (a killed child is restarted, as an orchestrator would)."""
    namespace = ctx.namespace()
    state = ctx.workdir / namespace.rstrip(":")
    running = Stack(
        state,
        schemas=(SCHEMA,),
        redis_url=None if own_redis else ctx.redis_url,
        namespace=namespace,
        env={**FAST_ENV, **(env or {})},
        sink=None,
        services=services,
        replicas=replicas,
        supervise=True,
        redis_persistent=redis_persistent,
    )
    with running:
        io = Streams(running.redis_url, namespace, running.login("admin"))
        try:
            yield running, io, ContentStore(str(state / "store"))
        finally:
            io.close()


def records(events: int, rows_per_event: int, first: int = 0) -> list[RecordsSubmitted]:
    """Labelled rows whose `income` is a unique serial number: every row can be traced."""
    drawn = CreditScenario(5).draw(events * rows_per_event, "before")
    now = utcnow()
    out = []
    for e in range(events):
        batch = []
        for r in range(rows_per_event):
            i = e * rows_per_event + r
            features = {**drawn.features[i], "income": float(first + i)}
            batch.append(Record(features=features, label=drawn.labels[i], observed_at=now))
        out.append(RecordsSubmitted(producer="faults", dataset="demo", records=batch))
    return out


def serials(events: Sequence[RecordsSubmitted]) -> set[float]:
    return {float(r.features["income"]) for e in events for r in e.records}


def ingested_serials(io: Streams, store: ContentStore) -> Counter[float]:
    """How many times each row reached a published dataset version."""
    seen: Counter[float] = Counter()
    for event in io.read(streams.DATA_INGESTED):
        if event.source == "records":
            seen.update(float(row.features["income"]) for row in loads(store.get(event.blob)))
    return seen


def compare(expected: set[float], seen: Counter[float]) -> tuple[int, int, int]:
    """(effects out, lost, duplicated) of rows."""
    lost = len(expected - set(seen))
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    return sum(seen.values()), lost, duplicated


def wait_rows(
    io: Streams, store: ContentStore, expected: set[float], timeout: float = 60.0
) -> Counter[float]:
    return eventually_sync(
        lambda: seen if expected <= set(seen := ingested_serials(io, store)) else None,
        timeout=timeout,
        what=f"{len(expected)} rows ingested",
    )


def metric(stack: Stack, child: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """One sample from a child's /metrics (0 when absent)."""
    text = httpx.get(f"{stack.url(child)}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in (labels or {}).items()):
            total += float(match.group(2))
    return total


def timed(fn: Callable[[], Any]) -> float:
    started = time.monotonic()
    fn()
    return round(time.monotonic() - started, 2)
