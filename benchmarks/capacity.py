"""What Redis holds per prediction, record and label, measured on a real Redis through the real
ingest service; and what 1 GB holds at the default retention.

Prediction logs (prediction.logged.v3, columnar, as the predictor flushes them), labels
(feedback.received.v1) and records (ingest.records.v1) of the demo schema are published to an
embedded Redis (Redis 7 from .tools when there) and consumed by ingest built in process, which
writes what it writes in production: the label join (a key per prediction waiting for its
label), prediction.labelled.v1, data.ingested.v1, the dedupe markers. Bytes are MEMORY USAGE
of every key afterwards (SAMPLES 0: exact), divided by the items, per stream and key kind.

    python -m benchmarks.capacity [--predictions 20000] [--batch 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from driftloop_bus.settings import BusSettings
from driftloop_contracts import FeedbackReceived, Label, Record, RecordsSubmitted, streams
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.embedded_redis import EmbeddedRedis
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from fastapi.testclient import TestClient
from redis import Redis

from tests.support.predictions import prediction_log
from tests.support.streams import Streams

NAMESPACE = "cap:"
GB = 1024**3
DAY = 86_400


def key_kind(key: str) -> str:
    """A stream's name, or a key's family (ingest:join:a, dl:seen, ...)."""
    name = key.removeprefix(NAMESPACE)
    parts = name.split(":")
    if parts[0] in ("ingest", "dl") and len(parts) > 2:
        return ":".join(parts[:3] if parts[1] == "join" else parts[:2])
    return name if len(parts) == 1 else ":".join(parts[:2])


def memory_by_kind(redis: Redis) -> dict[str, tuple[int, int]]:
    """kind -> (keys, bytes), over every key of the namespace."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in redis.scan_iter(match=f"{NAMESPACE}*", count=1000):
        text = key.decode()
        usage = redis.memory_usage(text, samples=0) or 0
        found[key_kind(text)][0] += 1
        found[key_kind(text)][1] += int(usage)
    return {k: (v[0], v[1]) for k, v in found.items()}


@contextmanager
def ingest_running(url: str, state: Path) -> Iterator[TestClient]:
    schemas = state / "schemas"
    schemas.mkdir()
    (schemas / "demo.json").write_text(SCHEMA.model_dump_json())
    settings = IngestSettings(
        redis_url=url,
        namespace=NAMESPACE,
        store_url=str(state / "store"),
        schema_dir=schemas,
        retention_maxlen=0,  # keep everything: this measures what retention would trim
    )
    with TestClient(build_app(settings)) as client:
        yield client


def publish_predictions(io: Streams, n: int, batch: int) -> list[uuid.UUID]:
    rows = CreditScenario(7).draw(n, "before").features
    ids = [uuid.uuid4() for _ in range(n)]
    for start in range(0, n, batch):
        chunk = rows[start : start + batch]
        event = prediction_log("demo", 1, chunk, ids=ids[start : start + batch])
        io.publish(streams.PREDICTION_LOGGED, event)
    return ids


def publish_labels(io: Streams, ids: list[uuid.UUID], per_event: int) -> None:
    for start in range(0, len(ids), per_event):
        labels = [Label(prediction_id=i, label="no") for i in ids[start : start + per_event]]
        io.publish(streams.FEEDBACK_RECEIVED, FeedbackReceived(producer="sdk", labels=labels))


def publish_records(io: Streams, n: int, per_event: int) -> None:
    drawn = CreditScenario(9).draw(n, "before")
    pairs = list(zip(drawn.features, drawn.labels, strict=True))
    for start in range(0, n, per_event):
        records = [Record(features=f, label=y) for f, y in pairs[start : start + per_event]]
        io.publish(
            streams.INGEST_RECORDS,
            RecordsSubmitted(producer="sdk", dataset="demo", records=records),
        )


def measure(predictions: int, batch: int, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as server:
        redis = Redis.from_url(server.url)
        io = Streams(server.url, NAMESPACE)
        with ingest_running(server.url, Path(tmp)):
            ids = publish_predictions(io, predictions, batch)
            io.wait_consumed(streams.PREDICTION_LOGGED, "ingest", timeout=120)
            waiting = memory_by_kind(redis)
            publish_labels(io, ids, per_event=100)
            io.wait_consumed(streams.FEEDBACK_RECEIVED, "ingest", timeout=120)
            publish_records(io, records, per_event=500)
            io.wait_consumed(streams.INGEST_RECORDS, "ingest", timeout=120)
            done = memory_by_kind(redis)
        info = redis.info("server")
        io.close()
        redis.close()
    return {
        "redis": info["redis_version"],
        "predictions": predictions,
        "batch": batch,
        "labels": predictions,
        "records": records,
        "before_labels": waiting,
        "after": done,
    }


def per_item(found: dict[str, Any]) -> dict[str, float]:
    """Bytes per prediction, label and record, by what holds them."""
    after, before = found["after"], found["before_labels"]
    n, records = found["predictions"], found["records"]

    def bytes_of(kinds: dict[str, tuple[int, int]], kind: str) -> int:
        return kinds.get(kind, (0, 0))[1]

    join = sum(v[1] for k, v in before.items() if k.startswith("ingest:join"))
    return {
        "prediction: log entry (prediction.logged.v3)": bytes_of(after, "prediction.logged.v3") / n,
        "prediction: join state until its label (ingest:join)": join / n,
        "label: feedback.received.v1": bytes_of(after, "feedback.received.v1") / n,
        "label: prediction.labelled.v1": bytes_of(after, "prediction.labelled.v1") / n,
        "record: ingest.records.v1": bytes_of(after, "ingest.records.v1") / records,
        "record: data.ingested.v1": bytes_of(after, "data.ingested.v1") / records,
        "dedupe markers (dl:seen), per prediction": bytes_of(after, "dl:seen") / n,
    }


def report(found: dict[str, Any]) -> str:
    rates = per_item(found)
    prediction = sum(v for k, v in rates.items() if k.startswith(("prediction:", "label:")))
    prediction += rates["dedupe markers (dl:seen), per prediction"]
    streams_only = prediction - rates["prediction: join state until its label (ingest:join)"]
    record = sum(v for k, v in rates.items() if k.startswith("record:"))
    lines = [
        f"Redis {found['redis']}: {found['predictions']} predictions logged {found['batch']} "
        f"per entry, as many labels (100 per event), {found['records']} records (500 per event)",
        "",
        "| what | bytes each |",
        "|---|---|",
        *(f"| {k} | {v:,.0f} |" for k, v in rates.items()),
        f"| **a labelled prediction (join state while it waits)** | **{prediction:,.0f}** |",
        f"| **a record, all of it** | **{record:,.0f}** |",
        "",
        "What 1 GB of maxmemory holds (labelled predictions, the join state drained):",
        "",
        "| rate | predictions in 1 GB | hours at that rate | 7 days (default retention) need |",
        "|---|---|---|---|",
    ]
    per_gb = GB / streams_only
    for rate in (10, 100, 1000):
        week = rate * 7 * DAY * streams_only / GB
        lines.append(f"| {rate}/s | {per_gb:,.0f} | {per_gb / rate / 3600:,.1f} | {week:,.1f} GB |")
    maxlen = BusSettings().retention_maxlen
    entry = rates["prediction: log entry (prediction.logged.v3)"] * found["batch"]
    lines += [
        "",
        f"DRIFTLOOP_RETENTION_MAXLEN={maxlen:,} entries bound prediction.logged.v3 to "
        f"{maxlen * entry / GB:,.2f} GB at {found['batch']} predictions per entry "
        f"({entry:,.0f} bytes an entry).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10, help="predictions per log entry")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    found = measure(args.predictions, args.batch, args.records)
    print(report(found))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(found | {"per_item": per_item(found)}, indent=2))


if __name__ == "__main__":
    main()
