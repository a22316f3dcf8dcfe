"""The trainer's memory against how much was ingested: RSS of a real trainer process.

Writes V dataset versions of R rows each to a content store, starts the trainer (`python -m
driftloop_trainer`) on an embedded Redis with a first-model threshold it never reaches, then
publishes the versions' data.ingested events. RSS is sampled every 20 ms: once it serves /healthz
(idle), its peak while it consumes the versions, then while one requested run trains on the
newest TRAINER_MAX_ROWS rows. With `--baseline REV` the same is measured for the trainer of
that git revision (its source extracted with git archive and put first on PYTHONPATH), on the
same data.

    python -m benchmarks.trainer_memory [--versions 300] [--rows 2000] [--max-rows 50000]
        [--cache-mb 128] [--baseline 90f34f7] [--json .driftloop/bench-trainer-memory.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
from driftloop_contracts import DataIngested, TrainingRequested, streams, utcnow
from driftloop_contracts.codec import encode
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_ingest.service import write_version
from driftloop_sdk.embedded_redis import EmbeddedRedis, free_port
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from redis import Redis

from benchmarks.keys import signer

MB = 1024 * 1024


@dataclass
class Measured:
    trainer: str
    versions: int
    rows_per_version: int
    idle_mb: float
    ingest_peak_mb: float
    after_ingest_mb: float
    training_peak_mb: float
    after_training_mb: float
    ingest_s: float
    training_s: float


class Sampler:
    """RSS of a process every `interval` seconds, in a thread; `peak()` since the last reset."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._peak = max(self._peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def now(self) -> float:
        return float(self.process.memory_info().rss) / MB

    def reset(self) -> None:
        self._peak = self.process.memory_info().rss

    def peak(self) -> float:
        return self._peak / MB

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def make_versions(store: ContentStore, versions: int, rows: int) -> list[DataIngested]:
    start = utcnow() - timedelta(days=1)
    scenario = CreditScenario(7)
    drawn = scenario.draw(rows, "before")  # one draw reused: the content differs by time
    events = []
    for v in range(versions):
        base = start + timedelta(seconds=v * rows)
        part = [
            LabelledRow(f, y, base + timedelta(seconds=i))
            for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
        ]
        version = write_version(store, SCHEMA, part)
        events.append(
            DataIngested(
                producer="bench",
                dataset=SCHEMA.name,
                version=version.version,
                blob=version.blob,
                rows=version.rows,
                source="records",
                observed_from=version.observed_from,
                observed_to=version.observed_to,
                dataset_schema=SCHEMA,
            )
        )
    return events


def baseline_source(revision: str, into: Path) -> Path:
    """The trainer package of `revision`, extracted; its parent goes first on PYTHONPATH."""
    archive = subprocess.run(
        ["git", "archive", revision, "services/trainer/src/driftloop_trainer"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "services" / "trainer" / "src"


def drained(redis: Redis, key: str, group: str) -> bool:
    last = redis.xrevrange(key, count=1)
    groups = {g["name"]: g for g in redis.xinfo_groups(key)} if redis.exists(key) else {}
    info = groups.get(group.encode())
    return bool(last and info and info["last-delivered-id"] >= last[0][0] and not info["pending"])


def wait(probe: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def trainer_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    signer()  # the trainer refuses to start without its signing key
    process = subprocess.Popen(
        [sys.executable, "-m", "driftloop_trainer"], env={**os.environ, **env}
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(30)


def measure(
    name: str,
    events: list[DataIngested],
    redis_url: str,
    store: ContentStore,
    args: argparse.Namespace,
    pythonpath: Path | None,
) -> Measured:
    namespace = f"mem{int(time.time() * 1000)}:"
    redis = Redis.from_url(redis_url)
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "DRIFTLOOP_NAMESPACE": namespace,
        "DRIFTLOOP_STORE": store.url,
        "LOG_LEVEL": "WARNING",
        "TRAINER_PORT": str(port),
        "TRAINER_MIN_INITIAL_ROWS": "1000000000",
        "TRAINER_MAX_ROWS": str(args.max_rows),
        "TRAINER_CACHE_MB": str(args.cache_mb),
    }
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    with trainer_process(env) as process:
        sampler = Sampler(process.pid)
        wait(lambda: healthy(port), 300, "the trainer to serve /healthz")
        idle = sampler.now()
        sampler.reset()
        started = time.monotonic()
        key = streams.DATA_INGESTED.key(namespace)
        with redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(key, encode(event))  # type: ignore[arg-type]
            pipe.execute()
        wait(lambda: drained(redis, key, "trainer"), 3600, "the versions to be consumed")
        ingest_s = time.monotonic() - started
        ingest_peak, after_ingest = sampler.peak(), sampler.now()
        sampler.reset()
        started = time.monotonic()
        request = encode(TrainingRequested(producer="bench", dataset=SCHEMA.name))
        redis.xadd(streams.TRAINING_REQUESTED.key(namespace), request)  # type: ignore[arg-type]
        outcomes = (streams.TRAINING_COMPLETED, streams.TRAINING_FAILED)
        wait(
            lambda: any(redis.exists(s.key(namespace)) for s in outcomes),
            3600,
            "the requested run",
        )
        training_s = time.monotonic() - started
        training_peak, after_training = sampler.peak(), sampler.now()
        sampler.stop()
    redis.close()
    return Measured(
        trainer=name,
        versions=len(events),
        rows_per_version=args.rows,
        idle_mb=round(idle, 1),
        ingest_peak_mb=round(ingest_peak, 1),
        after_ingest_mb=round(after_ingest, 1),
        training_peak_mb=round(training_peak, 1),
        after_training_mb=round(after_training, 1),
        ingest_s=round(ingest_s, 1),
        training_s=round(training_s, 1),
    )


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=300)
    parser.add_argument("--rows", type=int, default=2000, help="rows per version")
    parser.add_argument("--max-rows", type=int, default=50_000)
    parser.add_argument("--cache-mb", type=int, default=128)
    parser.add_argument("--baseline", help="git revision of a trainer to compare with")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as server:
        store = ContentStore(str(Path(tmp) / "store"))
        events = make_versions(store, args.versions, args.rows)
        print(f"{len(events)} versions of {args.rows} rows written", flush=True)
        if args.baseline:
            src = baseline_source(args.baseline, Path(tmp))
            results.append(measure(args.baseline, events, server.url, store, args, src))
            print(results[-1], flush=True)
        results.append(measure("this tree", events, server.url, store, args, None))
        print(results[-1], flush=True)
    print(
        "\n| trainer | idle MB | ingest peak MB | after ingest MB | training peak MB | "
        "after training MB | ingest s | training s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.trainer} | {r.idle_mb} | {r.ingest_peak_mb} | {r.after_ingest_mb} | "
            f"{r.training_peak_mb} | {r.after_training_mb} | {r.ingest_s} | {r.training_s} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
