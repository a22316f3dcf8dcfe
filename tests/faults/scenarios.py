"""The fault scenarios. Each runs real service processes against a real Redis, injects one
fault, and counts events in against effects out. `make test` runs the fast variants
(tests/faults/test_faults.py); `make faults` runs the full ones and prints the table."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import orjson
from driftloop_contracts import (
    streams,
)
from driftloop_sdk.scenario import CreditScenario

from tests.support.data import ingested, labelled_rows, promoted, trained
from tests.support.predictions import logged_ids, prediction_log
from tests.support.wait import eventually_sync

from .harness import (
    Context,
    Result,
    compare,
    ingested_serials,
    metric,
    records,
    serials,
    stack,
    wait_rows,
)


def wait_exit_and_restart(running: object, child: str, timeout: float = 90.0) -> float:
    """Wait until the supervisor has seen `child` die and started it again; when it died.
    The deadline is generous: a restart imports scikit-learn again, on 2 cores shared with
    another tier of tests (make test runs two test processes)."""
    died = eventually_sync(
        lambda: time.monotonic() if running.restarts.get(child) else None,  # type: ignore[attr-defined]
        timeout=timeout,
        interval=0.02,
        what=f"{child} to crash",
    )
    running.wait_healthy(timeout, [child])  # type: ignore[attr-defined]
    return float(died)


# ----------------------------------------------------------------- kill -9 mid-handler


def kill_ingest(ctx: Context) -> Result:
    env = {"DRIFTLOOP_FAILPOINTS": "ingest.before_commit=crash"}
    with stack(ctx, services=["ingest"], env=env) as (running, io, store):
        events = records(20, 50)
        io.publish(streams.INGEST_RECORDS, *events)
        died = wait_exit_and_restart(running, "ingest")
        seen = wait_rows(io, store, serials(events))
        recovered = time.monotonic() - died
        out, lost, dup = compare(serials(events), seen)
        versions = len(io.read(streams.DATA_INGESTED))
    return Result(
        "kill -9 ingest before its commit",
        len(serials(events)),
        out,
        lost,
        dup,
        round(recovered, 2),
        f"rows; {versions} dataset versions",
    )


def kill_trainer(ctx: Context) -> Result:
    env = {"DRIFTLOOP_FAILPOINTS": "trainer.before_commit=crash"}
    with stack(ctx, services=["trainer"], env=env) as (running, io, store):
        io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
        died = wait_exit_and_restart(running, "trainer")
        io.wait(streams.TRAINING_COMPLETED)
        recovered = time.monotonic() - died
        io.wait_consumed(streams.DATA_INGESTED, "trainer")
        runs = len(io.read(streams.TRAINING_COMPLETED))
    return Result(
        "kill -9 trainer before its commit",
        1,
        runs,
        max(0, 1 - runs),
        max(0, runs - 1),
        round(recovered, 2),
        "training runs",
    )


def kill_registry(ctx: Context) -> Result:
    env = {"DRIFTLOOP_FAILPOINTS": "registry.before_commit=crash"}
    with stack(ctx, services=["registry"], env=env) as (running, io, store):
        io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400)))
        died = wait_exit_and_restart(running, "registry")
        io.wait(streams.MODEL_PROMOTED)
        recovered = time.monotonic() - died
        io.wait_consumed(streams.TRAINING_COMPLETED, "registry")
        versions = httpx.get(f"{running.url('registry')}/v1/models").json()
        promotions = len(io.read(streams.MODEL_PROMOTED))
        registered = len(io.read(streams.MODEL_REGISTERED))
    effects = len(versions)
    dup = max(0, effects - 1) + max(0, promotions - 1) + max(0, registered - 1)
    return Result(
        "kill -9 registry before its commit",
        1,
        effects,
        max(0, 1 - min(effects, promotions)),
        dup,
        round(recovered, 2),
        f"versions; {promotions} promotion event(s)",
    )


def kill_predictor(ctx: Context) -> Result:
    env = {"DRIFTLOOP_FAILPOINTS": "predictor.before_swap=crash"}
    with stack(ctx, services=["predictor"], env=env) as (running, io, store):
        io.publish(streams.MODEL_PROMOTED, promoted(trained(store, labelled_rows(300))))
        died = wait_exit_and_restart(running, "predictor")
        model = eventually_sync(
            lambda: (
                r.json()
                if (r := httpx.get(f"{running.url('predictor')}/v1/model")).status_code == 200
                else None
            ),
            what="a model served after restart",
        )
        recovered = time.monotonic() - died
        swaps = metric(running, "predictor", "driftloop_predictor_model_swaps_total")
    return Result(
        "kill -9 predictor before its model swap",
        1,
        int(swaps),
        int(model["model_version"] != 1),
        max(0, int(swaps) - 1),
        round(recovered, 2),
        "swaps in the restarted predictor",
    )


def kill_monitor(ctx: Context) -> Result:
    env = {
        "DRIFTLOOP_FAILPOINTS": "drift-monitor.before_commit=crash",
        "MONITOR_WINDOW_SIZE": "200",
        "MONITOR_MIN_LABELS": "10000",
    }
    with stack(ctx, services=["drift-monitor"], env=env) as (running, io, store):
        run = trained(store, labelled_rows(1000))
        io.publish(streams.MODEL_PROMOTED, promoted(run))  # into the serving state it reads
        drawn = CreditScenario(31).draw(2400, "after")
        for i in range(0, 2400, 200):
            io.publish(
                streams.PREDICTION_LOGGED,
                prediction_log("demo", 1, drawn.features[i : i + 200], producer="faults"),
            )
        died = wait_exit_and_restart(running, "drift-monitor")
        io.wait(streams.DRIFT_DETECTED)
        recovered = time.monotonic() - died
        io.wait_consumed(streams.PREDICTION_LOGGED, "drift-monitor")
        kinds = [e.kind for e in io.read(streams.DRIFT_DETECTED)]
    dup = sum(n - 1 for n in (kinds.count(k) for k in set(kinds)) if n > 1)
    expected = {"data", "prediction"}  # the shifted rows and the constant predictions
    return Result(
        "kill -9 drift-monitor before its commit",
        len(expected),
        len(kinds),
        len(expected - set(kinds)),
        dup,
        round(recovered, 2),
        f"drift events {sorted(kinds)}: one per kind",
    )


# ------------------------------------------------------------------------- replicas


def two_replicas(ctx: Context) -> Result:
    """Two replicas of every consumer-group service: work is shared, nothing done twice."""
    env = {"INGEST_BATCH_SIZE": "2", "MONITOR_BATCH_SIZE": "2", "TRAINER_MIN_INITIAL_ROWS": "2000"}
    services = ["ingest", "trainer", "registry", "drift-monitor"]
    replicas = dict.fromkeys(services, 2)
    with stack(ctx, services=services, env=env, replicas=replicas) as (running, io, store):
        events = records(40, 50)
        logs = [prediction_log("other", 1, [{"x": 1.0}]) for _ in range(40)]
        io.publish(streams.INGEST_RECORDS, *events)
        io.publish(streams.PREDICTION_LOGGED, *logs)
        seen = wait_rows(io, store, serials(events))
        io.wait(streams.MODEL_PROMOTED)
        for stream, group in (
            (streams.DATA_INGESTED, "trainer"),
            (streams.TRAINING_COMPLETED, "registry"),
            (streams.PREDICTION_LOGGED, "drift-monitor"),
        ):
            io.wait_consumed(stream, group)

        def handled(stream: str, children: tuple[str, str]) -> dict[str, float]:
            labels = {"stream": stream, "outcome": "handled"}
            return {
                c: metric(running, c, "driftloop_events_consumed_total", labels) for c in children
            }

        by_ingest = handled(streams.INGEST_RECORDS.name, ("ingest", "ingest#2"))
        by_monitor = handled(streams.PREDICTION_LOGGED.name, ("drift-monitor", "drift-monitor#2"))
        runs = len(io.read(streams.TRAINING_COMPLETED))
        versions = len(httpx.get(f"{running.url('registry')}/v1/models").json())
    out, lost, dup = compare(serials(events), seen)
    watched = int(sum(by_monitor.values()))
    lost += max(0, len(logs) - watched)
    dup += max(0, runs - 1) + max(0, versions - 1) + max(0, watched - len(logs))
    return Result(
        "two replicas of ingest, trainer, registry, drift-monitor",
        len(serials(events)) + len(logs),
        out + watched,
        lost,
        dup,
        None,
        f"records events per ingest replica {sorted(int(v) for v in by_ingest.values())}, "
        f"prediction logs per monitor replica {sorted(int(v) for v in by_monitor.values())}; "
        f"{runs} training run, {versions} registry version",
        {
            "shared": all(v > 0 for v in [*by_ingest.values(), *by_monitor.values()]),
            "handled": by_ingest | by_monitor,
        },
    )


# ---------------------------------------------------------------------------- Redis


def redis_restart(ctx: Context, persistent: bool) -> Result:
    name = (
        "Redis restart, append-only"
        if persistent
        else "Redis restart, no persistence (groups lost)"
    )
    with stack(ctx, services=["ingest"], own_redis=True, redis_persistent=persistent) as (
        running,
        io,
        store,
    ):
        first = records(10, 20)
        io.publish(streams.INGEST_RECORDS, *first)
        wait_rows(io, store, serials(first))
        running.stop_redis()
        running.start_redis()
        restarted = time.monotonic()
        second = records(10, 20, first=10_000)
        io.publish(streams.INGEST_RECORDS, *second)
        expected = serials(second) | (serials(first) if persistent else set())
        seen = wait_rows(io, store, expected, timeout=60)
        recovered = time.monotonic() - restarted
        groups = [
            g["name"].decode()
            for g in io.redis.xinfo_groups(streams.INGEST_RECORDS.key(io.namespace))
        ]
        out, lost, dup = compare(expected, seen)
        health = httpx.get(f"{running.url('ingest')}/healthz").json()
    note = f"groups {groups}; watchdog restarts {health['subscriber_restarts']}"
    if not persistent:
        note += "; rows before the restart died with Redis's memory"
    return Result(name, len(expected), out, lost, dup, round(recovered, 2), note)


def redis_down_while_serving(ctx: Context, buffer_max: int | None = None) -> Result:
    down_s = 30.0 if ctx.full else 3.0
    env = {"PREDICTOR_LOG_BUFFER_MAX": str(buffer_max)} if buffer_max else {}
    with stack(ctx, services=["predictor"], own_redis=True, env=env) as (running, io, store):
        io.publish(streams.MODEL_PROMOTED, promoted(trained(store, labelled_rows(300))))
        url = f"{running.url('predictor')}/v1/predict"
        row = CreditScenario(1).draw(1, "before").features[0]
        warm = eventually_sync(
            lambda: (
                r.json()
                if (r := httpx.post(url, json={"features": row})).status_code == 200
                else None
            ),
            what="a model served",
        )
        eventually_sync(
            lambda: warm["prediction_id"] in logged_ids(io.read(streams.PREDICTION_LOGGED)),
            what="the warm-up prediction logged",
        )
        ids: list[str] = []
        failures = 0
        running.stop_redis()
        deadline = time.monotonic() + down_s
        with httpx.Client(timeout=5) as http:
            while time.monotonic() < deadline:
                answer = http.post(url, json={"features": row})
                if answer.status_code == 200:
                    ids.append(answer.json()["prediction_id"])
                else:
                    failures += 1
        running.start_redis()
        back = time.monotonic()
        dropped = 0.0

        def logged() -> set[str]:
            return set(logged_ids(io.read(streams.PREDICTION_LOGGED)))

        def settled() -> bool:
            nonlocal dropped
            dropped = metric(running, "predictor", "driftloop_predictor_logs_dropped_total")
            return len(logged() & set(ids)) + dropped >= len(ids)

        eventually_sync(settled, timeout=60, what="buffered logs published")
        recovered = time.monotonic() - back
        published = len(logged() & set(ids))
    name = f"Redis down {down_s:.0f} s while serving" + (
        f", buffer {buffer_max}" if buffer_max else ""
    )
    silent = len(ids) - published - int(dropped)
    return Result(
        name,
        len(ids),
        published,
        silent,
        0,
        round(recovered, 2),
        f"{failures} failed requests; {int(dropped)} logs dropped and counted",
        {"failed_requests": failures, "dropped": int(dropped)},
    )


# --------------------------------------------------------------------- bad input


def poison(ctx: Context) -> Result:
    with stack(ctx, services=["trainer"], env={"TRAINER_MIN_INITIAL_ROWS": "100000"}) as (
        running,
        io,
        store,
    ):
        key = streams.DATA_INGESTED.key(io.namespace)
        good = ingested(store, labelled_rows(50))
        missing_blob = good.model_copy(
            update={
                "event_id": uuid.uuid4(),
                "blob": good.blob.model_copy(update={"sha256": "0" * 64}),
            }
        )
        body = orjson.loads(good.model_dump_json())
        io.redis.xadd(key, {"__data__": b"{definitely not json"})
        io.redis.xadd(
            key, {"__data__": orjson.dumps({**body, "rows": "many", "event_id": str(uuid.uuid4())})}
        )
        io.redis.xadd(
            key,
            {
                "__data__": orjson.dumps(
                    {**body, "schema_version": 2, "event_id": str(uuid.uuid4())}
                )
            },
        )
        # Valid, but its blob cannot be read: recorded from the event (the trainer reads a
        # version only when it trains, and skips one it cannot read then), not a dead letter.
        io.publish(streams.DATA_INGESTED, missing_blob)
        fine = [ingested(store, labelled_rows(20, seed=s)) for s in range(5)]
        io.publish(streams.DATA_INGESTED, *fine)
        letters = eventually_sync(
            lambda: d if len(d := io.dead_letters(streams.DATA_INGESTED)) >= 3 else None,
            timeout=30,
            what="3 dead letters",
        )
        io.wait_consumed(streams.DATA_INGESTED, "trainer")
        handled = metric(
            running,
            "trainer",
            "driftloop_events_consumed_total",
            {"stream": "data.ingested.v1", "outcome": "handled"},
        )
    attempts = sorted(int(f[b"attempts"]) for f in letters)
    return Result(
        "poison messages (3 kinds) among 6 good (one's blob gone)",
        9,
        len(letters) + int(handled),
        9 - len(letters) - int(handled),
        0,
        None,
        f"dead letters with attempts {attempts}; {int(handled)} handled",
    )


def duplicates(ctx: Context) -> Result:
    with stack(ctx, services=["ingest"]) as (running, io, store):
        events = records(5, 20)
        io.publish(streams.INGEST_RECORDS, *events, *events)  # every event_id twice
        seen = wait_rows(io, store, serials(events))
        io.wait_consumed(streams.INGEST_RECORDS, "ingest")
        seen = ingested_serials(io, store)
        out, lost, dup = compare(serials(events), seen)
        dropped = metric(
            running,
            "ingest",
            "driftloop_events_consumed_total",
            {"stream": "ingest.records.v1", "outcome": "duplicate"},
        )
    return Result(
        "duplicate delivery (each event twice)",
        len(serials(events)),
        out,
        lost,
        dup,
        None,
        f"{int(dropped)} duplicates dropped",
    )


def burst(ctx: Context) -> Result:
    """10x the normal record rate for a while: the backlog waits in Redis, memory stays flat."""
    events_n = 400 if ctx.full else 100
    with stack(ctx, services=["ingest"], env={"INGEST_BATCH_SIZE": "20"}) as (running, io, store):
        pid = running.children["ingest"].process.pid
        warm = records(10, 100)
        io.publish(streams.INGEST_RECORDS, *warm)  # the normal rate: 10 events, 1,000 rows
        wait_rows(io, store, serials(warm))
        base = _rss_mb(pid)
        peak = base
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.05):
                peak = max(peak, _rss_mb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        burst_events = records(events_n, 100, first=100_000)  # 10x: all at once
        started = time.monotonic()
        io.publish(streams.INGEST_RECORDS, *burst_events)
        seen = wait_rows(io, store, serials(burst_events) | serials(warm), timeout=120)
        drained = time.monotonic() - started
        stop.set()
        sampler.join()
        out, lost, dup = compare(serials(burst_events) | serials(warm), seen)
    return Result(
        f"burst of {events_n * 100:,} rows into ingest",
        len(serials(burst_events)) + 1000,
        out,
        lost,
        dup,
        round(drained, 2),
        f"RSS {base:.0f} -> peak {peak:.0f} MB",
        {"rss_base_mb": base, "rss_peak_mb": peak},
    )


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def retention(ctx: Context) -> Result:
    """Trimming while a consumer is down never removes what it has not acknowledged."""
    import asyncio

    from driftloop_bus import Bus
    from driftloop_core import ServiceSettings

    with stack(ctx, services=["ingest"]) as (running, io, store):
        key = streams.INGEST_RECORDS.key(io.namespace)
        first = records(5, 20)
        io.publish(streams.INGEST_RECORDS, *first)
        wait_rows(io, store, serials(first))
        running.kill("ingest", signal.SIGSTOP)  # frozen: reads nothing more, acks nothing more
        second = records(5, 20, first=50_000)
        io.publish(streams.INGEST_RECORDS, *second)
        before = io.redis.xlen(key)

        async def trim() -> int:
            admin = running.login("admin")  # the ingest user could not trim behind its back
            settings = ServiceSettings(
                redis_url=running.redis_url,
                namespace=io.namespace,
                redis_username=admin.username,
                redis_password=admin.password,
            )
            bus = Bus(settings)
            bus.settings.retention_s = 0  # everything is "old": only acknowledgement protects it
            try:
                return await bus.maintenance.trim(key)
            finally:
                await bus.redis.aclose()

        removed = asyncio.run(trim())
        running.kill("ingest", signal.SIGCONT)
        seen = wait_rows(io, store, serials(first) | serials(second))
        out, lost, dup = compare(serials(first) | serials(second), seen)
    return Result(
        "retention trim while a consumer is frozen",
        len(serials(first) | serials(second)),
        out,
        lost,
        dup,
        None,
        f"trimmed {removed} of {before} entries (the acknowledged ones)",
    )


SCENARIOS: dict[str, Callable[[Context], Result]] = {
    "kill-ingest": kill_ingest,
    "kill-trainer": kill_trainer,
    "kill-registry": kill_registry,
    "kill-predictor": kill_predictor,
    "kill-drift-monitor": kill_monitor,
    "two-replicas": two_replicas,
    "redis-restart-aof": lambda ctx: redis_restart(ctx, persistent=True),
    "redis-restart-empty": lambda ctx: redis_restart(ctx, persistent=False),
    "redis-down-serving": redis_down_while_serving,
    "redis-down-small-buffer": lambda ctx: redis_down_while_serving(ctx, buffer_max=50),
    "poison": poison,
    "duplicates": duplicates,
    "burst": burst,
    "retention": retention,
}

__all__ = ["SCENARIOS", "Context", "Result"]
