"""A small world for the console's unit tests: the services' answers as JSON, stream entries,
and hand-written fakes of the console's ports."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from driftloop_console.ports import Entry, GroupLag, Refused, ServiceDown
from driftloop_contracts import DriftDetected, FeatureDrift, codec
from driftloop_contracts.events.drift import WindowRef

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DRIFT_ID = uuid.UUID("00000000-0000-4000-8000-0000000000d1")


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def window_test(feature: str, p: float, effect: float, drifted: bool = False) -> dict[str, Any]:
    return {
        "feature": feature,
        "test": "ks",
        "statistic": 0.1,
        "p_value": p,
        "threshold": 0.001,
        "drifted": drifted,
        "reference": {},
        "current": {},
        "effect": effect,
        "effect_name": "wasserstein_normed",
        "min_effect": 0.1,
    }


def drift_event(dataset: str = "credit", version: int = 1, seconds: float = 60) -> DriftDetected:
    when = T0 + timedelta(seconds=seconds)
    return DriftDetected(
        event_id=DRIFT_ID,
        dataset=dataset,
        model_version=version,
        kind="data",
        window=WindowRef(start=when, end=when, rows=200),
        evidence=(
            FeatureDrift.model_validate(window_test("income", 1e-9, 0.8, drifted=True)),
            FeatureDrift.model_validate(window_test("age", 0.4, 0.02)),
        ),
        occurred_at=when,
    )


def metrics(accuracy: float) -> dict[str, Any]:
    return {"accuracy": accuracy, "f1_macro": accuracy - 0.05, "rows": 400, "extra": {}}


def version(v: int, status: str, accuracy: float, trigger: str = "initial") -> dict[str, Any]:
    decision = {
        "promote": status in ("champion", "retired"),
        "reason": "beats the champion (McNemar p=0.001)" if v > 1 else "first model",
        "candidate": metrics(accuracy),
        "champion": metrics(0.51) if v > 1 else None,
        "champion_version": v - 1 if v > 1 else None,
        "decided_at": at(100 * v),
    }
    return {
        "dataset": "credit",
        "version": v,
        "status": status,
        "created_at": at(100 * v),
        "run_id": str(uuid.uuid4()),
        "trigger": trigger,
        "metrics": metrics(accuracy),
        "params": {},
        "decision": decision,
    }


def promotion(v: int, seconds: float, reason: str = "gate") -> dict[str, Any]:
    return {
        "dataset": "credit",
        "version": v,
        "previous_version": v - 1 if v > 1 else None,
        "reason": reason,
        "actor": "registry",
        "event_id": str(uuid.uuid4()),
        "correlation_id": str(DRIFT_ID if v > 1 else uuid.uuid4()),
        "at": at(seconds),
        "stream_id": None,
    }


def lineage(v: int, caused_by: uuid.UUID | None) -> dict[str, Any]:
    row = version(v, "champion", 0.82, "drift" if caused_by else "initial")
    return {
        "dataset": "credit",
        "version": v,
        "run_id": row["run_id"],
        "trigger": row["trigger"],
        "correlation_id": str(caused_by or uuid.uuid4()),
        "caused_by": str(caused_by) if caused_by else None,
        "training_event_id": str(uuid.uuid4()),
        "training_rows": 685,
        "metrics": row["metrics"],
        "decision": row["decision"],
        "promotions": [promotion(v, 100 * v + 1)],
    }


def history() -> dict[str, Any]:
    windows = [
        {
            "window": i + 1,
            "end": at(20 * i),
            "data": [
                window_test("income", 0.5 if i < 3 else 1e-9, 0.02 if i < 3 else 0.8),
                window_test("age", 0.4, 0.03),
            ],
            "prediction": [window_test("prediction", 0.3, 0.01)],
        }
        for i in range(5)
    ]
    accuracy = [
        {"at": at(20 * i), "accuracy": 0.84 if i < 3 else 0.52, "labels": 100} for i in range(5)
    ]
    return {
        "dataset": "credit",
        "versions": [
            {
                "model_version": 1,
                "promoted_at": at(0),
                "baseline_accuracy": 0.84,
                "windows": windows,
                "accuracy": accuracy,
            }
        ],
    }


class FakeServices:
    def __init__(
        self, answers: Mapping[tuple[str, str], Any], down: set[str] | None = None
    ) -> None:
        self.answers = dict(answers)
        self.down = down or set()
        self.acted: list[tuple[str, str, str]] = []
        self.refuse: Refused | None = None

    async def read(self, service: str, path: str, missing: tuple[int, ...] = (404,)) -> Any | None:
        """An answer given as an int is that HTTP status."""
        if service in self.down:
            raise ServiceDown(service, f"http://127.0.0.1:9/{service}", "ConnectError")
        answer = self.answers.get((service, path))
        if isinstance(answer, int):
            if answer in missing:
                return None
            raise ServiceDown(service, f"http://127.0.0.1:9/{service}", f"HTTP {answer}")
        return answer

    async def act(self, service: str, path: str, token: str) -> Any:
        if self.refuse:
            raise self.refuse
        self.acted.append((service, path, token))
        return {}


class FakeStreams:
    def __init__(self) -> None:
        self.entries: dict[str, list[Entry]] = {}
        self.seq = 0

    def add(
        self, stream: str, fields: Mapping[bytes, bytes], shard: int = 0, entry_id: str = ""
    ) -> str:
        self.seq += 1
        entry_id = entry_id or f"{1767614400000 + self.seq}-0"
        self.entries.setdefault(stream, []).append(Entry(stream, entry_id, dict(fields), shard))
        return entry_id

    def publish(self, stream: str, event: Any) -> str:
        return self.add(stream, codec.encode(event))

    async def newest(self, stream: str, count: int) -> list[Entry]:
        return list(reversed(self.entries.get(stream, [])))[:count]

    async def entry(self, stream: str, entry_id: str, shard: int = 0) -> Entry | None:
        return next(
            (e for e in self.entries.get(stream, []) if e.address == (entry_id, shard)), None
        )

    async def lengths(self, streams: list[str]) -> dict[str, int]:
        return {s: len(self.entries.get(s, [])) for s in streams}

    async def lag(self, streams: list[str]) -> list[GroupLag]:
        return [GroupLag("ingest.records.v1", "ingest", 0, 0)]


class FakeReplayer:
    def __init__(self, streams: FakeStreams) -> None:
        self.streams = streams

    async def replay(self, stream: str, entry_id: str, shard: int = 0) -> str:
        dlq = self.streams.entries.get(f"{stream}.dlq", [])
        found = next((e for e in dlq if e.address == (entry_id, shard)), None)
        if found is None:
            raise Refused(404, f"no dead letter {entry_id}")
        dlq.remove(found)
        return self.streams.add(stream, {b"__data__": found.fields[b"__data__"]}, shard)
