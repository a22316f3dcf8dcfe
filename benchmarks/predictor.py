"""`make bench`: the predictor against a plain FastAPI server and the in-process limit.

Both servers serve the same scikit-learn models (RandomForest 100 trees depth 10, and
LogisticRegression, on make_classification 20,000 x 20), each pinned to core 0 while wrk runs
on core 1 (concurrency 16). The predictor runs as in production: logging every prediction to
a real Redis (prediction.logged), validating every row. Runs are interleaved and repeated;
the table reports medians and the ratios measured in the same run. Batches are also sent as
columns to the predictor (``{"columns": {...}}``) and as bare arrays to the baseline's
``/v1/predict/arrays`` (orjson, no names, no validation, no logging): the second table compares
the columnar path with that baseline.

    python -m benchmarks.predictor [--seconds 20] [--runs 3] [--json bench-results/predictor.json]
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
from collections.abc import Sequence
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
from driftloop_sdk.embedded_redis import EmbeddedRedis, free_port, wait_for_port
from redis import Redis
from rich.console import Console
from rich.table import Table
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from benchmarks.keys import sealed, signer
from benchmarks.proccpu import cpu_seconds

CONCURRENCY = 16
FEATURES = 20
SCHEMA = DatasetSchema(
    name="bench",
    features=tuple(FeatureSpec(name=f"f{i}", kind="numeric") for i in range(FEATURES)),
    target=TargetSpec(name="y", classes=("0", "1")),
)


@dataclass
class Run:
    server: str
    route: str
    model: str
    rows: int
    req_s: float
    rows_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float = 0.0  # the server process's CPU per request (user + system)


def models(names: Sequence[str] = ("RF", "LR")) -> tuple[dict[str, Pipeline], np.ndarray]:
    x, y = make_classification(n_samples=20_000, n_features=FEATURES, random_state=0)
    labels = np.where(y == 1, "1", "0")
    every = {
        "RF": lambda: Pipeline(
            [("model", RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0))]
        ),
        "LR": lambda: Pipeline([("model", LogisticRegression(max_iter=1000))]),
    }
    fitted = {name: every[name]() for name in names}
    for pipeline in fitted.values():
        pipeline.fit(x, labels)
    return fitted, x


def in_process(pipeline: Pipeline, x: np.ndarray, rows: int, seconds: float = 2.0) -> float:
    """Rows per second of predict_proba alone, on `rows`-row calls."""
    batch = x[:rows]
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        pipeline.predict_proba(batch)
        calls += 1
    return calls * rows / (time.perf_counter() - started)


def body(x: np.ndarray, rows: int, shape: str = "rows") -> bytes:
    values = np.round(x[:rows], 6)
    if shape == "columns":
        return orjson.dumps({"columns": {f"f{i}": c.tolist() for i, c in enumerate(values.T)}})
    if shape == "arrays":
        return orjson.dumps({"instances": values.tolist()})
    as_rows = [{f"f{i}": float(v) for i, v in enumerate(r)} for r in values]
    return orjson.dumps({"features": as_rows[0]} if rows == 1 else {"rows": as_rows})


#: (server, route): the path and the body shape it takes.
ROUTES = {
    ("driftloop", "rows"): ("/v1/predict/batch", "rows"),
    ("baseline", "rows"): ("/v1/predict/batch", "rows"),
    ("driftloop", "columns"): ("/v1/predict/batch", "columns"),
    ("baseline", "arrays"): ("/v1/predict/arrays", "arrays"),
}


def wrk(
    port: int, path: str, payload: bytes, seconds: float, workdir: Path, pid: int | None = None
) -> dict[str, float]:
    """wrk's figures, and with the server's `pid` the CPU it spent per request."""
    script = workdir / "post.lua"
    cpu_before = cpu_seconds(pid) if pid else 0.0
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{payload.decode()}]==]\n"
    )
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
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "cpu_us": cpu / max(done, 1) * 1e6,
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "errors": int(errors.group(1))
        if errors
        else 0 + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.port = name, port
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port, 60)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def start_predictor(redis_url: str, store: Path, port: int, extra_env: dict[str, str]) -> Server:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DRIFTLOOP_STORE": str(store),
        "DRIFTLOOP_DATASET": "bench",
        "PREDICTOR_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    server = Server("driftloop", [sys.executable, "-m", "driftloop_predictor"], env, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("predictor not ready")


def promoted_event(
    store: ContentStore, pipeline: Pipeline, version: int
) -> tuple[ModelPromoted, str]:
    """The promotion of `pipeline` (stored), and its artifact's key in the store."""
    data = dump_artifact(ModelArtifact(pipeline, SCHEMA, ("0", "1"), {}))
    blob = store.put(data, kind="models/bench", suffix=".pkl")
    profile = store.put(b"{}", kind="profiles/bench", suffix=".json")
    event = ModelPromoted(
        producer="bench",
        dataset="bench",
        model_version=version,
        previous_version=None,
        reason="manual",
        artifact=blob,
        profile=profile,
        metrics=Metrics(accuracy=1.0, f1_macro=1.0, rows=1),
        dataset_schema=SCHEMA,
    )
    return sealed(event), blob.key


def promote(redis_url: str, store: ContentStore, pipeline: Pipeline, version: int) -> Path:
    event, key = promoted_event(store, pipeline, version)
    client = Redis.from_url(redis_url)
    with client.pipeline(transaction=True) as pipe:  # as the registry publishes it
        pipe.xadd(streams.MODEL_PROMOTED.key(), encode(event))  # type: ignore[arg-type]
        serving.record_promotion(Keys(), event).apply(pipe)  # type: ignore[arg-type]
        pipe.execute()
    client.close()
    return Path(store.root) / key


def main() -> int:
    signer()  # the services started here verify (and sign) with this run's keys
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=["RF", "LR"])
    parser.add_argument("--rows", nargs="*", type=int, default=[1, 100])
    parser.add_argument("--json", type=Path, default=Path("bench-results/predictor.json"))
    parser.add_argument(
        "--predictor-env", nargs="*", default=[], help="KEY=VALUE for the predictor"
    )
    parser.add_argument(
        "--no-columnar",
        dest="columnar",
        action="store_false",
        help="skip the columnar route and the arrays baseline",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (or run `make bench`)", file=sys.stderr)
        return 2
    console = Console(width=160)
    fitted, x = models(args.models)
    limits = {(m, r): in_process(fitted[m], x, r) for m in args.models for r in args.rows}
    extra = dict(kv.split("=", 1) for kv in args.predictor_env)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        away_from_servers(redis)
        workdir = Path(tmp)
        store = ContentStore(str(workdir / "store"))
        for version, name in enumerate(args.models, start=1):
            artifact = promote(redis.url, store, fitted[name], version)
            predictor = start_predictor(redis.url, workdir / "store", free_port(), extra)
            baseline_port = free_port()
            baseline = Server(
                "baseline",
                [
                    sys.executable,
                    "-m",
                    "benchmarks.baseline_server",
                    str(artifact),
                    str(baseline_port),
                ],
                dict(os.environ),
                baseline_port,
            )
            try:
                for rows in args.rows:
                    servers = {"driftloop": predictor, "baseline": baseline}
                    routes = [("driftloop", "rows"), ("baseline", "rows")]
                    if rows > 1 and args.columnar:
                        routes += [("driftloop", "columns"), ("baseline", "arrays")]
                    for _ in range(args.runs):  # interleaved: machine noise hits both alike
                        for server_name, route in routes:
                            path, shape = ROUTES[(server_name, route)]
                            if rows == 1:
                                path = "/v1/predict"
                            server = servers[server_name]
                            payload = body(x, rows, shape)
                            result = wrk(
                                server.port,
                                path,
                                payload,
                                args.seconds,
                                workdir,
                                server.process.pid,
                            )
                            logged = trim_logs(redis.url)
                            runs.append(
                                Run(
                                    server.name,
                                    route,
                                    name,
                                    rows,
                                    result["req_s"],
                                    result["req_s"] * rows,
                                    result["p50_ms"],
                                    result["p99_ms"],
                                    int(result["errors"]),
                                    result["cpu_us"],
                                )
                            )
                            console.print(
                                f"{server.name:9} {route:7} {name} {rows:>3} rows: "
                                f"{result['req_s']:8.0f} req/s p99 {result['p99_ms']:.1f} ms "
                                f"CPU {result['cpu_us']:.0f} us/req, "
                                f"errors {int(result['errors'])}, log entries {logged}"
                            )
            finally:
                predictor.stop()
                baseline.stop()
    report(console, runs, limits, args.json)
    return 0


def away_from_servers(redis: EmbeddedRedis) -> None:
    """Redis (every thread of it) on core 1 with wrk, none on the servers' core 0: in
    production the predictor's Redis runs on its own host, so its CPU must not be charged to
    the predictor's core (the baseline has no Redis at all)."""
    if redis.process is not None and shutil.which("taskset"):
        subprocess.run(
            ["taskset", "-a", "-cp", "1", str(redis.process.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def trim_logs(redis_url: str) -> int:
    """Empty the prediction log between runs, as retention would in production (nothing
    consumes it here, and a log grown by gigabytes slows Redis for the later runs); the
    number of log entries the run wrote."""
    client = Redis.from_url(redis_url)
    written = int(client.xtrim(streams.PREDICTION_LOGGED.key(), maxlen=0))
    client.close()
    return written


def median_run(runs: list[Run], server: str, model: str, rows: int, route: str = "rows") -> Run:
    chosen = [
        r for r in runs if (r.server, r.route, r.model, r.rows) == (server, route, model, rows)
    ]
    return Run(
        server,
        route,
        model,
        rows,
        statistics.median(r.req_s for r in chosen),
        statistics.median(r.rows_s for r in chosen),
        statistics.median(r.p50_ms for r in chosen),
        statistics.median(r.p99_ms for r in chosen),
        sum(r.errors for r in chosen),
        statistics.median(r.cpu_us for r in chosen),
    )


def report(
    console: Console, runs: list[Run], limits: dict[tuple[str, int], float], out: Path
) -> None:
    table = Table(
        title=f"predictor vs plain FastAPI (c={CONCURRENCY}, medians of interleaved runs)"
    )
    for column in (
        "model",
        "rows/request",
        "driftloop req/s",
        "rows/s",
        "p50 ms",
        "p99 ms",
        "baseline req/s",
        "p99 ms",
        "vs baseline",
        "in-process rows/s",
        "of limit",
        "errors",
    ):
        table.add_column(column, justify="right")
    summary: list[dict[str, Any]] = []
    for model, rows in sorted(limits):
        ours, base = (
            median_run(runs, "driftloop", model, rows),
            median_run(runs, "baseline", model, rows),
        )
        limit = limits[(model, rows)]
        table.add_row(
            model,
            str(rows),
            f"{ours.req_s:,.0f}",
            f"{ours.rows_s:,.0f}",
            f"{ours.p50_ms:.1f}",
            f"{ours.p99_ms:.1f}",
            f"{base.req_s:,.0f}",
            f"{base.p99_ms:.1f}",
            f"{ours.req_s / base.req_s:.2f}x",
            f"{limit:,.0f}",
            f"{ours.rows_s / limit:.0%}",
            str(ours.errors + base.errors),
        )
        summary.append(
            {
                "model": model,
                "rows": rows,
                "driftloop": asdict(ours),
                "baseline": asdict(base),
                "in_process_rows_s": limit,
                "ratio_vs_baseline": ours.req_s / base.req_s,
                "share_of_limit": ours.rows_s / limit,
            }
        )
    console.print(table)
    columnar = columnar_report(console, runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"summary": summary, "columnar": columnar, "runs": [asdict(r) for r in runs]}, indent=2
        )
    )
    console.print(f"written to {out}")


def columnar_report(console: Console, runs: list[Run]) -> list[dict[str, Any]]:
    """The columnar route and the row route against the baseline's arrays route."""
    table = Table(title="columns vs the arrays baseline (rows/s, medians; logging on for ours)")
    for column in (
        "model",
        "rows/request",
        "columns rows/s",
        "p99 ms",
        "rows route rows/s",
        "arrays baseline rows/s",
        "p99 ms",
        "columns / arrays",
        "rows / arrays",
        "CPU us/req columns",
        "arrays",
        "CPU arrays / columns",
        "errors",
    ):
        table.add_column(column, justify="right")
    summary: list[dict[str, Any]] = []
    for model, rows in sorted({(r.model, r.rows) for r in runs if r.route == "columns"}):
        cols = median_run(runs, "driftloop", model, rows, "columns")
        named = median_run(runs, "driftloop", model, rows, "rows")
        arrays = median_run(runs, "baseline", model, rows, "arrays")
        table.add_row(
            model,
            str(rows),
            f"{cols.rows_s:,.0f}",
            f"{cols.p99_ms:.1f}",
            f"{named.rows_s:,.0f}",
            f"{arrays.rows_s:,.0f}",
            f"{arrays.p99_ms:.1f}",
            f"{cols.rows_s / arrays.rows_s:.2f}x",
            f"{named.rows_s / arrays.rows_s:.2f}x",
            f"{cols.cpu_us:,.0f}",
            f"{arrays.cpu_us:,.0f}",
            f"{arrays.cpu_us / cols.cpu_us:.2f}x" if cols.cpu_us else "-",
            str(cols.errors + arrays.errors),
        )
        summary.append(
            {
                "model": model,
                "rows": rows,
                "columns": asdict(cols),
                "rows_route": asdict(named),
                "arrays_baseline": asdict(arrays),
                "columns_vs_arrays": cols.rows_s / arrays.rows_s,
                "rows_vs_arrays": named.rows_s / arrays.rows_s,
                "cpu_arrays_vs_columns": arrays.cpu_us / cols.cpu_us if cols.cpu_us else None,
                "pairwise_columns_vs_arrays": pairwise(runs, model, rows),
            }
        )
    if summary:
        console.print(table)
        for line in summary:
            pairs = line["pairwise_columns_vs_arrays"]
            console.print(
                f"{line['model']} {line['rows']} rows, columns / arrays run by run: "
                + ", ".join(f"{p:.2f}" for p in pairs)
            )
    return summary


def pairwise(runs: list[Run], model: str, rows: int) -> list[float]:
    """Columns / arrays rows/s of each interleaved run (run i of one against run i of the
    other: the same moment's machine noise)."""

    def chosen(server: str, route: str) -> list[Run]:
        key = (server, route, model, rows)
        return [r for r in runs if (r.server, r.route, r.model, r.rows) == key]

    return [
        c.rows_s / a.rows_s
        for c, a in zip(chosen("driftloop", "columns"), chosen("baseline", "arrays"), strict=False)
    ]


if __name__ == "__main__":
    sys.exit(main())
