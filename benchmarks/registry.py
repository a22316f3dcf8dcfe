"""The registry as the single writer of its SQLite: how far its read side lags the streams.

An in-process registry (its real consumer groups) on an embedded Redis, two registered
versions with made-up blobs (promotions never open them):

1. admin promotions over HTTP, alternating the two versions: each answer waits until the
   read side shows the promotion (`recorded`), so its latency is publish + the consumer
   applying it;
2. N promotions published straight onto model.promoted at once: the time until SQLite holds
   them all (the projection's throughput).

    python -m benchmarks.registry [--actions 200] [--burst 5000]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from driftloop_bus import Keys, serving
from driftloop_contracts import BlobRef, Metrics, ModelPromoted, TrainingCompleted, streams
from driftloop_contracts.codec import encode
from driftloop_core.telemetry import configure_logging
from driftloop_registry.bootstrap import build_app
from driftloop_registry.db import Database
from driftloop_registry.repository import Repository
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.embedded_redis import EmbeddedRedis
from driftloop_sdk.scenario import SCHEMA
from fastapi.testclient import TestClient
from redis import Redis

from benchmarks.keys import sealed, signer

TOKEN = "bench-admin-token-0123456789"


def blob(kind: str, text: str) -> BlobRef:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return BlobRef(key=f"{kind}/{sha[:2]}/{sha}", sha256=sha, size=len(text))


def run(n: int) -> TrainingCompleted:
    return TrainingCompleted(
        producer="bench",
        run_id=uuid.uuid4(),
        dataset="demo",
        trigger="requested",
        artifact=blob("models", str(n)),
        profile=blob("profiles", str(n)),
        holdout=blob("holdouts", str(n)),
        metrics=Metrics(accuracy=0.8, f1_macro=0.8, rows=500),
        params={},
        seed=n,
        library_versions={},
        dataset_versions=("bench",),
        training_rows=1000,
        dataset_schema=SCHEMA,
    )


def promotion(r: TrainingCompleted, version: int) -> ModelPromoted:
    return ModelPromoted(
        producer="bench",
        dataset="demo",
        model_version=version,
        previous_version=None,
        reason="manual",
        artifact=r.artifact,
        profile=r.profile,
        metrics=r.metrics,
        dataset_schema=SCHEMA,
    )


def applied(db: Database) -> int:
    with db.read() as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM promotions").fetchone()
    return int(count)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    signer()  # the services started here verify (and sign) with this run's keys
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--burst", type=int, default=5000)
    args = parser.parse_args()
    configure_logging("registry", "WARNING")
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        ns = f"bench{uuid.uuid4().hex[:6]}:"
        db = Database(Path(tmp) / "registry.sqlite3")
        repo = Repository(db)
        runs = [run(1), run(2)]
        for r in runs:
            repo.register(r)
        settings = RegistrySettings(
            redis_url=server.url,
            namespace=ns,
            store_url=tmp,
            db_path=Path(tmp) / "unused.sqlite3",
            admin_token=TOKEN,
            log_level="WARNING",
        )
        redis = Redis.from_url(server.url)
        key, keys = streams.MODEL_PROMOTED.key(ns), Keys(ns)
        with redis.pipeline(transaction=True) as pipe:  # v1 serves to begin with
            first = sealed(promotion(runs[0], 1))
            pipe.xadd(key, encode(first))  # type: ignore[arg-type]
            serving.record_promotion(keys, first).apply(pipe)  # type: ignore[arg-type]
            pipe.execute()
        with TestClient(build_app(settings, db=db)) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            latencies, recorded = [], 0
            for i in range(args.actions):
                started = time.perf_counter()
                answer = client.post(f"/v1/models/demo/{2 - i % 2}/promote", headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text
                recorded += answer.json()["recorded"]
            before = len(client.get("/v1/models/demo/promotions").json())
            with redis.pipeline(transaction=False) as pipe:
                for i in range(args.burst):
                    burst = sealed(promotion(runs[i % 2], 1 + i % 2))
                    pipe.xadd(key, encode(burst))  # type: ignore[arg-type]
                started = time.perf_counter()
                pipe.execute()
            while applied(db) < before + args.burst:
                time.sleep(0.02)
            burst_s = time.perf_counter() - started
        redis.close()
    print(f"admin promotions over HTTP: {args.actions}, recorded before the answer: {recorded}")
    print(
        f"  latency ms: p50 {statistics.median(latencies):.1f}, "
        f"p99 {percentile(latencies, 0.99):.1f}, max {max(latencies):.1f}"
    )
    print(
        f"burst of {args.burst} promotions on the stream: in SQLite after {burst_s:.2f} s "
        f"({args.burst / burst_s:,.0f} events/s)"
    )


if __name__ == "__main__":
    main()
