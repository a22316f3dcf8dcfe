"""The whole loop under load, through public interfaces only (HTTP, Redis INFO/XINFO/SCAN).

Memory: on a fresh stack serving v1, N rows are predicted (100 per request), then labelled; Redis
used_memory, DBSIZE and MEMORY USAGE by key family (ids as `*`) and by stream once every consumer
group has drained. Throughput: K requests in flight for T seconds, then the time until every
group has drained; without and with labels sent back (a fresh stack each); CPU per process.
Streams and groups are discovered, never named.

    python -m benchmarks.loop [--predictions 20000] [--seconds 20] [--inflight 8]
        [--labels both|on|off] [--labels-via stream|http]
        [--skip-memory] [--skip-throughput] [--json .driftloop/bench-loop.json]

Labels go back as users send them: `stream` publishes one feedback.received event per answer
with the SDK's EventPublisher (one XADD), `http` posts them to ingest's /v1/labels. CPU is
also reported in microseconds per prediction, a figure that holds on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from driftloop_contracts import Record, utcnow
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import CreditScenario
from redis import Redis

BATCH = 100
INITIAL_ROWS = 2_000
SETTLE_S = 1.0  # drained and unchanged this long (> the predictor's 200 ms log flush)
FAMILY_SAMPLE = 2_000
JSON = {"content-type": "application/json"}
ENV = {
    "LOG_LEVEL": "WARNING",
    "TRAINER_MIN_INITIAL_ROWS": str(INITIAL_ROWS),
    "TRAINER_RETRAIN_ON": "[]",  # drift is recorded, never retrained on: no training noise
}
IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b|\d+"
)
Batches = list[tuple[bytes, list[str]]]


def text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def stream_keys(r: Redis) -> list[bytes]:
    return sorted(r.scan_iter(_type="stream", count=10_000))


def backlog(r: Redis, streams: list[bytes]) -> tuple[list[str], tuple[Any, ...]]:
    """(groups with entries undelivered or unacknowledged, a fingerprint of every stream).

    No XINFO STREAM: its reply carries the first and last entries (~110 kB each on the columnar
    prediction stream), too much to poll every 100 ms."""
    behind, prints = list[str](), list[tuple[Any, ...]]()
    for key in streams:
        prints.append((key, r.xlen(key)))
        for g in r.xinfo_groups(key):
            lag = g.get("lag")  # Redis >= 7 (None when unknown); 6.2: is anything after it?
            if lag is None:
                lag = len(r.xrange(key, min=b"(" + g["last-delivered-id"], count=1) or [])
            if int(lag) + int(g["pending"]):
                behind.append(f"{text(key)}/{text(g['name'])}: lag {lag}, pending {g['pending']}")
            prints.append((key, g["name"], g["last-delivered-id"], g["pending"]))
    return behind, tuple(prints)


def wait_drained(r: Redis, streams: list[bytes] | None = None, timeout: float = 600.0) -> float:
    """Seconds from now until every group had drained for good (and no stream grew since).

    `streams` (listed before the load, not to SCAN in the measured time) are listed again only
    to confirm: SCAN walks every key (~2 µs each), so polling it would cost Redis more CPU than
    the consumers' own commands."""
    start = time.monotonic()
    since: float | None = None
    last: tuple[Any, ...] | None = None
    streams, behind = streams or stream_keys(r), list[str]()
    while time.monotonic() < start + timeout:
        now = time.monotonic()
        behind, fp = backlog(r, streams)
        if behind or fp != last:
            since, last = (None if behind else now), fp
        elif since is not None and now - since >= SETTLE_S:
            if streams == (streams := stream_keys(r)):
                return since - start
            since = last = None
        time.sleep(0.1)
    raise TimeoutError(f"consumers not drained after {timeout}s: {behind}")


def snapshot(r: Redis, detail: bool = True) -> dict[str, Any]:
    snap: dict[str, Any] = {"used_memory": r.info("memory")["used_memory"], "keys": r.dbsize()}
    if not detail:
        return snap
    counts: dict[str, int] = {}
    sampled: dict[str, list[bytes]] = {}
    for key in r.scan_iter(count=1000):
        fam = IDS.sub("*", text(key))
        counts[fam] = counts.get(fam, 0) + 1
        if len(sample := sampled.setdefault(fam, [])) < FAMILY_SAMPLE:
            sample.append(key)
    families: dict[str, dict[str, Any]] = {}
    for fam, keys in sampled.items():
        with r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.memory_usage(key, samples=0)
            sizes = [s or 0 for s in pipe.execute()]
        total = round(sum(sizes) / len(sizes) * counts[fam])
        kind, ttl = text(r.type(keys[0])), r.ttl(keys[0])
        families[fam] = {"keys": counts[fam], "bytes": total, "type": kind, "ttl_s": ttl}
    snap["families"] = dict(sorted(families.items(), key=lambda kv: -kv[1]["bytes"]))
    snap["families_bytes"] = sum(f["bytes"] for f in families.values())
    snap["streams"] = {
        text(k): {"entries": r.xlen(k), "bytes": r.memory_usage(k, samples=0)}
        | {"groups": len(r.xinfo_groups(k))}
        for k in stream_keys(r)
    }
    return snap


def cpu_seconds(stack: Stack) -> dict[str, float]:
    pids = {name: child.process.pid for name, child in stack.children.items()}
    if stack.redis and stack.redis.process:
        pids["redis"] = stack.redis.process.pid
    out = {}
    for name, pid in pids.items():
        proc = psutil.Process(pid)
        times = [p.cpu_times() for p in (proc, *proc.children(recursive=True))]
        out[name] = sum(t.user + t.system for t in times)
    machine = psutil.cpu_times()  # every process, and idle: was the machine saturated?
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return out | {"bench client": sum(os.times()[:2]), "machine busy": busy}


@contextlib.contextmanager
def ready_stack(state_dir: Path) -> Iterator[tuple[Stack, Redis]]:
    """A fresh stack serving v1 (trained on 2,000 'before' rows), every consumer drained."""
    schemas = (CreditScenario.schema,)
    with Stack(state_dir, schemas=schemas, env=ENV, redis_persistent=False, sink=None) as stack:
        data, now = CreditScenario(1).draw(INITIAL_ROWS, "before"), utcnow()
        rows = zip(data.features, data.labels, strict=True)
        publisher = EventPublisher(
            stack.redis_url, namespace=stack.namespace, login=stack.login("client")
        )
        publisher.submit_records(
            "demo", [Record(features=f, label=y, observed_at=now) for f, y in rows]
        )
        publisher.close()
        deadline = time.monotonic() + 180
        while models(stack) is None:
            stack.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("no model served after 180 s")
            time.sleep(0.2)
        r = stack.connect("admin")  # raw replies: stream entries hold binary payloads
        wait_drained(r)
        try:
            yield stack, r
        finally:
            r.close()


def models(stack: Stack) -> str | None:
    """The served version and how many exist (a retrain during a run would show here)."""
    try:
        served = httpx.get(f"{stack.url('predictor')}/v1/model", timeout=10)
        if served.status_code != 200:
            return None
        versions = httpx.get(f"{stack.url('registry')}/v1/models?dataset=demo", timeout=10).json()
    except httpx.HTTPError:
        return None
    return f"v{served.json()['model_version']} served, {len(versions)} registered"


@dataclass
class Drive:
    predictions: int = 0
    requests: int = 0
    label_posts: int = 0
    errors: int = 0
    predict_s: float = 0.0  # until the last answer
    total_s: float = 0.0  # until the last label post was answered too
    answered: list[dict[str, str]] = field(default_factory=list)


def make_batches(count: int, seed: int = 2) -> Batches:
    scenario = CreditScenario(seed)
    draws = [scenario.draw(BATCH, "before") for _ in range(count)]
    return [(json.dumps({"rows": d.features}).encode(), d.labels) for d in draws]


async def drive(
    stack: Stack,
    batches: Batches,
    inflight: int,
    *,
    requests: int | None = None,
    seconds: float | None = None,
    labels: bool = False,
    via: str = "stream",
) -> Drive:
    """K predict requests in flight until `requests` are done or `seconds` have passed; with
    `labels`, each answer's true labels are sent back at once (`via` the feedback.received
    stream with the SDK, or posted to ingest, K posts in flight at most), else they are kept
    in `answered`."""
    out, issued, tasks = Drive(), 0, set[asyncio.Task[None]]()
    label_slots = asyncio.Semaphore(inflight)
    start = time.monotonic()
    stop_at = start + seconds if seconds is not None else float("inf")
    predict_url = f"{stack.url('predictor')}/v1/predict/batch"
    labels_url = f"{stack.url('ingest')}/v1/labels"
    limits = httpx.Limits(max_connections=2 * inflight + 2, max_keepalive_connections=2 * inflight)
    publisher = EventPublisher(
        stack.redis_url, namespace=stack.namespace, producer="bench", login=stack.login("client")
    )
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def post_labels(body: bytes) -> None:
            try:
                answer = await http.post(labels_url, content=body, headers=JSON)
                out.label_posts += 1
                out.errors += answer.status_code >= 300
            finally:
                label_slots.release()

        async def worker() -> None:
            nonlocal issued
            while time.monotonic() < stop_at and (requests is None or issued < requests):
                body, truth = batches[issued % len(batches)]
                issued += 1
                answer = await http.post(predict_url, content=body, headers=JSON)
                out.requests += 1
                if answer.status_code != 200:
                    out.errors += 1
                    continue
                pairs = [
                    {"prediction_id": p["prediction_id"], "label": y}
                    for p, y in zip(answer.json()["predictions"], truth, strict=True)
                ]
                out.predictions += len(pairs)
                out.predict_s = time.monotonic() - start
                if not labels:
                    out.answered.extend(pairs)
                    continue
                if via == "stream":  # one XADD, a few hundred microseconds: inline
                    publisher.send_labels(pairs)
                    out.label_posts += 1
                    continue
                await label_slots.acquire()
                task = asyncio.create_task(post_labels(json.dumps({"labels": pairs}).encode()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        await asyncio.gather(*(worker() for _ in range(inflight)))
        await asyncio.gather(*list(tasks))
    publisher.close()
    out.total_s = time.monotonic() - start
    return out


async def post_all(url: str, bodies: list[bytes], inflight: int) -> int:
    """POST every body, `inflight` at a time; returns the number of errors."""
    slots = asyncio.Semaphore(inflight)
    async with httpx.AsyncClient(timeout=60) as http:

        async def post(body: bytes) -> bool:
            async with slots:
                return (await http.post(url, content=body, headers=JSON)).status_code >= 300

        return sum(await asyncio.gather(*(post(b) for b in bodies)))


def per_prediction(a: dict[str, Any], b: dict[str, Any], n: int) -> dict[str, float]:
    return {
        "bytes_per_prediction": round((b["used_memory"] - a["used_memory"]) / max(n, 1), 1),
        "keys_per_prediction": round((b["keys"] - a["keys"]) / max(n, 1), 3),
    }


def memory_run(work: Path, n: int, inflight: int) -> dict[str, Any]:
    with ready_stack(work / "memory") as (stack, r):
        base, before = snapshot(r), models(stack)
        d = asyncio.run(drive(stack, make_batches(n // BATCH), inflight, requests=n // BATCH))
        wait_drained(r)
        logged, pairs = snapshot(r), d.answered
        bodies = [
            json.dumps({"labels": pairs[i : i + BATCH]}).encode()
            for i in range(0, len(pairs), BATCH)
        ]
        label_errors = asyncio.run(post_all(f"{stack.url('ingest')}/v1/labels", bodies, inflight))
        wait_drained(r)
        labelled = snapshot(r)
        return {
            "redis_version": r.info("server")["redis_version"],
            "predictions": d.predictions,
            "errors": d.errors + label_errors,
            "models": {"before": before, "after": models(stack)},
            "logged_only": per_prediction(base, logged, d.predictions),
            "logged_and_labelled": per_prediction(base, labelled, d.predictions),
            "labels_alone": per_prediction(logged, labelled, d.predictions),
            "snapshots": {"baseline": base, "logged": logged, "labelled": labelled},
        }


def throughput_run(
    work: Path, seconds: float, inflight: int, labels: bool, via: str
) -> dict[str, Any]:
    with ready_stack(work / f"loop-labels-{'on' if labels else 'off'}") as (stack, r):
        batches = make_batches(200)
        before, streams = snapshot(r, detail=False), stream_keys(r)
        lengths = {text(k): r.xlen(k) for k in streams}
        cpu0, t0 = cpu_seconds(stack), time.monotonic()
        d = asyncio.run(drive(stack, batches, inflight, seconds=seconds, labels=labels, via=via))
        cpu_mid, t_mid = cpu_seconds(stack), time.monotonic()
        drain = wait_drained(r, streams)
        cpu1, after = cpu_seconds(stack), snapshot(r, detail=False)
        elapsed = time.monotonic() - t0  # drive, drain and the settle check
        cpu = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0}
        drive_cpu = {k: round(cpu_mid[k] - cpu0[k], 2) for k in cpu0}
        figures = {k: v for k, v in asdict(d).items() if k != "answered"}
        entries = {k: r.xlen(k) - lengths.get(k, 0) for k in map(text, stream_keys(r))}
        micros = {k: round(v * 1e6 / max(d.predictions, 1), 1) for k, v in cpu.items()}
        return figures | {
            "labels": labels,
            "labels_via": via if labels else "-",
            "cpu_us_per_prediction": micros,
            "entries_added": {k: n for k, n in sorted(entries.items()) if n},
            "drain_s": round(drain, 2),
            "answered_per_s": round(d.predictions / max(d.predict_s, 1e-9)),
            "sustained_per_s": round(d.predictions / (d.total_s + drain)),
            "cpu_s": cpu,
            "cpu_s_drive": drive_cpu,
            "phases_s": [round(t_mid - t0, 2), round(elapsed - (t_mid - t0), 2)],
            **per_prediction(before, after, d.predictions),
            "models": models(stack),
        }


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

    lines = [header, ["---", *["---:"] * (len(header) - 1)], *[[cell(v) for v in r] for r in rows]]
    return ["", *("| " + " | ".join(line) + " |" for line in lines)]


def markdown(results: dict[str, Any]) -> str:
    out: list[str] = []
    if mem := results.get("memory"):
        snaps, m = mem["snapshots"], mem["models"]
        out.append(f"### Redis memory, {mem['predictions']:,} predictions, {BATCH} rows/request")
        out.append(f"\nRedis {mem['redis_version']}; before: {m['before']}; after: {m['after']}")
        per = {"logged": mem["logged_only"], "labelled": mem["logged_and_labelled"]}
        rows = [[n, s["used_memory"], s["keys"], s["families_bytes"]] for n, s in snaps.items()]
        for row in rows:
            row += per[row[0]].values() if row[0] in per else ["-", "-"]
        out += table(
            ["state", "used_memory", "keys", "sum MEMORY USAGE", "B/pred", "keys/pred"], rows
        )
        for part, first, fields in (
            ("families", ("type", "ttl_s"), ("keys", "bytes")),
            ("streams", ("groups",), ("entries", "bytes")),
        ):
            union = {k: v for s in snaps.values() for k, v in s[part].items()}
            rows = []
            for key, v in sorted(union.items(), key=lambda kv: -kv[1]["bytes"]):
                cells = [snaps[s][part].get(key, {}).get(f, 0) for s in snaps for f in fields]
                rows.append([f"`{key}`", *(v[f] for f in first), *cells])
            out += table([part, *first, *(f"{s} {f}" for s in snaps for f in fields)], rows)
    if runs := results.get("throughput"):
        keys = ["predictions", "answered_per_s", "total_s", "drain_s", "sustained_per_s", "errors"]
        keys += ["bytes_per_prediction", "keys_per_prediction", "models"]
        out.append(
            f"\n### Loop throughput, {results['inflight']} requests of {BATCH} rows in flight"
        )
        out += table(["labels", *keys], [[t["labels"], *(t[k] for k in keys)] for t in runs])
        out.append("\nCPU seconds while driving + after (drain, settle check); 2 cores")
        rows = []
        for t in runs:
            drive, total = t["cpu_s_drive"], t["cpu_s"]
            split = {"wall": tuple(t["phases_s"])} | {
                n: (drive[n], total[n] - drive[n]) for n in total
            }
            procs = [split[n] for n in total if n != "machine busy"]
            split["sum of processes"] = (sum(a for a, _ in procs), sum(b for _, b in procs))
            rows.append([t["labels"], *(f"{a:.2f} + {b:.2f}" for a, b in split.values())])
        out += table(["labels", *split], rows)
        out.append("\nCPU microseconds per prediction (drive + drain), per process")
        names = [n for n in runs[0]["cpu_us_per_prediction"] if n != "machine busy"]
        rows = []
        for t in runs:
            micros = [t["cpu_us_per_prediction"][n] for n in names]
            rows.append([t["labels"], t["labels_via"], *micros, round(sum(micros), 1)])
        out += table(["labels", "via", *names, "sum"], rows)
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--labels", choices=("both", "on", "off"), default="both")
    parser.add_argument(
        "--labels-via",
        choices=("stream", "http"),
        default="stream",
        help="send labels back with the SDK (feedback.received) or POST /v1/labels",
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", type=Path, default=Path(".driftloop/bench-loop.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"inflight": args.inflight, "batch_rows": BATCH}
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        if not args.skip_memory:
            results["memory"] = memory_run(Path(tmp), args.predictions, args.inflight)
        if not args.skip_throughput:
            which = {"both": (False, True), "on": (True,), "off": (False,)}[args.labels]
            results["throughput"] = [
                throughput_run(Path(tmp), args.seconds, args.inflight, labels, args.labels_via)
                for labels in which
            ]
    print(markdown(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
