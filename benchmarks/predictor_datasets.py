"""`make bench`: one predictor serving 1 dataset against one serving 20, side by side.

Twenty generated schemas (10 numeric features each, named and ranged per dataset, so that
round-robin traffic costs the same per row as traffic to one), a LogisticRegression on each. One
predictor has only the first dataset promoted, the other all twenty; both run at once (each
pinned to core 0, wrk on core 1, concurrency 16), logging every prediction to a real Redis,
and wrk drives one at a time, interleaved. Measured: req/s with single rows and 100-row
batches on the first dataset's route (and, for one dataset, on the default route it replaced),
round-robin over all twenty datasets, and each process's RSS after loading and at the end.

    python -m benchmarks.predictor_datasets [--seconds 10] [--runs 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from driftloop_bus import Keys, serving
from driftloop_contracts import (
    DatasetSchema,
    FeatureSpec,
    Metrics,
    ModelPromoted,
    TargetSpec,
    streams,
)
from driftloop_contracts.codec import encode
from driftloop_core import ContentStore
from driftloop_ml import ModelArtifact, dump_artifact
from driftloop_sdk.embedded_redis import EmbeddedRedis, free_port
from redis import Redis
from rich.console import Console
from rich.table import Table
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from benchmarks.keys import sealed, signer
from benchmarks.predictor import CONCURRENCY, Server

DATASETS = 20


@dataclass
class Dataset:
    name: str
    schema: DatasetSchema
    pipeline: Pipeline
    x: np.ndarray


@dataclass
class Run:
    setup: str  # "1 dataset" or "20 datasets"
    traffic: str  # which routes wrk hits
    rows: int
    req_s: float
    p99_ms: float
    errors: int


def generated(count: int) -> list[Dataset]:
    out = []
    for i in range(count):
        width, name = 10, f"d{i:02d}"
        schema = DatasetSchema(
            name=name,
            features=tuple(
                FeatureSpec(name=f"{name}_x{j}", kind="numeric", minimum=-100.0, maximum=100.0)
                for j in range(width)
            ),
            target=TargetSpec(name="y", classes=("0", "1")),
        )
        x, y = make_classification(
            n_samples=2_000, n_features=width, n_informative=3, n_redundant=1, random_state=i
        )
        pipeline = Pipeline([("model", LogisticRegression(max_iter=500))])
        pipeline.fit(x, np.where(y == 1, "1", "0"))
        out.append(Dataset(schema.name, schema, pipeline, x))
    return out


def promote(redis_url: str, namespace: str, store: ContentStore, d: Dataset) -> None:
    data = dump_artifact(ModelArtifact(d.pipeline, d.schema, ("0", "1"), {}))
    event = ModelPromoted(
        producer="bench",
        dataset=d.name,
        model_version=1,
        previous_version=None,
        reason="manual",
        artifact=store.put(data, kind=f"models/{d.name}", suffix=".pkl"),
        profile=store.put(b"{}", kind=f"profiles/{d.name}", suffix=".json"),
        metrics=Metrics(accuracy=1.0, f1_macro=1.0, rows=1),
        dataset_schema=d.schema,
    )
    event = sealed(event)  # as the registry publishes it
    client = Redis.from_url(redis_url)
    with client.pipeline(transaction=True) as pipe:  # as the registry publishes it
        pipe.xadd(streams.MODEL_PROMOTED.key(namespace), encode(event))  # type: ignore[arg-type]
        serving.record_promotion(Keys(namespace), event).apply(pipe)  # type: ignore[arg-type]
        pipe.execute()
    client.close()


def body(d: Dataset, rows: int) -> bytes:
    names = d.schema.feature_names
    named = [{n: round(float(v), 6) for n, v in zip(names, r, strict=True)} for r in d.x[:rows]]
    return orjson.dumps({"features": named[0]} if rows == 1 else {"rows": named})


def lua(requests: list[tuple[str, bytes]]) -> str:
    """A wrk script cycling through pre-formatted requests (path, body)."""
    lines = ["local reqs = {}"]
    for i, (path, payload) in enumerate(requests, start=1):
        lines.append(
            f'reqs[{i}] = wrk.format("POST", "{path}", '
            f'{{["Content-Type"] = "application/json"}}, [==[{payload.decode()}]==])'
        )
    lines += [
        "local i = 0",
        "request = function()",
        "  i = i % #reqs + 1",
        "  return reqs[i]",
        "end",
    ]
    return "\n".join(lines) + "\n"


def wrk(port: int, script: str, seconds: float, workdir: Path) -> dict[str, float]:
    path = workdir / "requests.lua"
    path.write_text(script)
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{CONCURRENCY}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(path),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert rate and p99, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {
        "req_s": float(rate.group(1)),
        "p99_ms": float(p99.group(1)) * scale,
        "errors": int(errors.group(1)) if errors else 0,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(redis_url: str, namespace: str, store: Path, expected: int) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DRIFTLOOP_NAMESPACE": namespace,
        "DRIFTLOOP_STORE": str(store),
        "DRIFTLOOP_DATASET": "d00",
        "PREDICTOR_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # LR predicts in well under a millisecond; on a busy machine the timing at load can
        # still call one model slow (thread, 1 ms wait) and another fast: pin it, so both
        # setups batch alike.
        "PREDICTOR_OFFLOAD": "never",
    }
    server = Server(namespace, [sys.executable, "-m", "driftloop_predictor"], env, port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
            if ready.status_code == 200 and len(ready.json()["datasets"]) == expected:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"predictor {namespace} not ready")


def scripts(datasets: list[Dataset], rows: int) -> dict[str, dict[str, str]]:
    """Per setup, the traffic to drive: name -> wrk script."""
    suffix = "predict" if rows == 1 else "predict/batch"
    legacy = "/v1/predict" if rows == 1 else "/v1/predict/batch"
    first = datasets[0]
    one = [(f"/v1/models/{first.name}/{suffix}", body(first, rows))]
    every = [(f"/v1/models/{d.name}/{suffix}", body(d, rows)) for d in datasets]
    return {
        "1 dataset": {
            "default route (/v1/predict)": lua([(legacy, body(first, rows))]),
            "per-dataset route, d00": lua(one),
        },
        f"{len(datasets)} datasets": {
            "per-dataset route, d00": lua(one),
            f"round-robin over {len(datasets)}": lua(every),
        },
    }


def main() -> int:
    signer()  # the services started here verify (and sign) with this run's keys
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--datasets", type=int, default=DATASETS)
    parser.add_argument("--rows", nargs="*", type=int, default=[1, 100])
    parser.add_argument("--json", type=Path, default=Path("bench-results/predictor_datasets.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (or run `make bench`)", file=sys.stderr)
        return 2
    console = Console(width=140)
    datasets = generated(args.datasets)
    runs: list[Run] = []
    memory: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        workdir = Path(tmp)
        store = ContentStore(str(workdir / "store"))
        setups = {"1 dataset": datasets[:1], f"{len(datasets)} datasets": datasets}
        servers: dict[str, Server] = {}
        try:
            for n, (setup, served) in enumerate(setups.items()):
                for d in served:
                    promote(redis.url, f"ns{n}", store, d)
                servers[setup] = start(redis.url, f"ns{n}", workdir / "store", len(served))
                memory[setup] = {"rss_mb_loaded": rss_mb(servers[setup].process.pid)}
                console.print(f"{setup}: ready, RSS {memory[setup]['rss_mb_loaded']:.0f} MB")
            for rows in args.rows:
                traffic = scripts(datasets, rows)
                for _ in range(args.runs):  # interleaved: machine noise hits both alike
                    for setup, server in servers.items():
                        for name, script in traffic[setup].items():
                            r = wrk(server.port, script, args.seconds, workdir)
                            runs.append(
                                Run(setup, name, rows, r["req_s"], r["p99_ms"], int(r["errors"]))
                            )
                            console.print(
                                f"{setup:12} {name:30} {rows:>3} rows: "
                                f"{r['req_s']:8.0f} req/s p99 {r['p99_ms']:.1f} ms"
                            )
            for setup, server in servers.items():
                memory[setup]["rss_mb_end"] = rss_mb(server.process.pid)
                metrics = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
                found = re.search(r"^driftloop_predictor_models_bytes ([\d.e+]+)$", metrics, re.M)
                memory[setup]["models_bytes"] = float(found.group(1)) if found else 0.0
        finally:
            for server in servers.values():
                server.stop()
    report(console, runs, memory, args.json)
    return 0


def report(
    console: Console, runs: list[Run], memory: dict[str, dict[str, float]], out: Path
) -> None:
    setups = list(memory)
    table = Table(title=f"one predictor, {setups[0]} vs {setups[1]} loaded (c={CONCURRENCY})")
    for column in ("rows/request", "traffic", *(f"{s} req/s" for s in setups), "ratio", "p99 ms"):
        table.add_column(column, justify="right")
    summary: list[dict[str, Any]] = []
    keys = sorted({(r.rows, r.traffic) for r in runs}, key=lambda k: (k[0], k[1]))
    for rows, traffic in keys:
        medians = {}
        for setup in setups:
            chosen = [r for r in runs if (r.setup, r.rows, r.traffic) == (setup, rows, traffic)]
            if chosen:
                medians[setup] = (
                    statistics.median(r.req_s for r in chosen),
                    statistics.median(r.p99_ms for r in chosen),
                )
        base = medians.get(setups[0])
        many = medians.get(setups[1])
        ratio = f"{many[0] / base[0]:.2f}x" if base and many else "-"
        table.add_row(
            str(rows),
            traffic,
            *(f"{medians[s][0]:,.0f}" if s in medians else "-" for s in setups),
            ratio,
            " / ".join(f"{medians[s][1]:.1f}" for s in setups if s in medians),
        )
        summary.append({"rows": rows, "traffic": traffic, "req_s": medians})
    console.print(table)
    rss = Table(title="memory")
    for column in ("setup", "RSS loaded MB", "RSS end MB", "models bytes (artifact sizes)"):
        rss.add_column(column, justify="right")
    for setup, m in memory.items():
        rss.add_row(
            setup,
            f"{m['rss_mb_loaded']:.0f}",
            f"{m['rss_mb_end']:.0f}",
            f"{m['models_bytes']:,.0f}",
        )
    ratio = memory[setups[1]]["rss_mb_end"] / memory[setups[0]]["rss_mb_end"]
    console.print(rss)
    console.print(f"RSS ratio at the end, {setups[1]} / {setups[0]}: {ratio:.2f}x")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"summary": summary, "memory": memory, "runs": [asdict(r) for r in runs]}, indent=2
        )
    )
    console.print(f"written to {out}")


if __name__ == "__main__":
    sys.exit(main())
