"""compose-test's alert checks: each rule of deploy/prometheus/alerts.yml fires, in Alertmanager,
for the event it is named after.

The stack runs with a test-only Prometheus configuration (`test_prometheus_dir`): the same rules
with every `for:` cut to FOR_SECONDS and scrapes and evaluations every 2 s, so that the whole
check takes a few minutes. Each check makes its event happen for real through the running stack
and reads Alertmanager's API (/api/v2/alerts) until the alert arrives; "fired in" is the alert's
startsAt (when Prometheus found it firing) minus the moment of the event.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import yaml
from driftloop_sdk.scenario import CreditScenario
from stack import PORTS, Stack, docker, healthy, wait

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER = "http://127.0.0.1:9093"
FOR_SECONDS = 5
#: The shared decision's memory rule, for a branch whose alerts.yml does not have it yet.
REDIS_MEMORY_HIGH = {
    "alert": "RedisMemoryHigh",
    "expr": "redis_memory_used_bytes / redis_memory_max_bytes > 0.8 and redis_memory_max_bytes > 0",
    "for": "5m",
    "labels": {"severity": "warning"},
    "annotations": {"summary": "Redis memory above 80% of maxmemory"},
}


@dataclass
class Fired:
    rule: str
    event: str
    seconds: float


def test_prometheus_dir(directory: Path) -> Path:
    """prometheus.yml and alerts.yml for the test: fast scrapes, short `for:`."""
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "2s", "evaluation_interval": "2s"}
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    if "RedisMemoryHigh" not in names:
        rules["groups"].append({"name": "compose-test", "rules": [REDIS_MEMORY_HIGH]})
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{FOR_SECONDS}s"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (directory / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    for f in directory.iterdir():
        f.chmod(0o644)  # Prometheus runs as its own user
    directory.chmod(0o755)
    return directory


def firing(name: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{ALERTMANAGER}/api/v2/alerts", params={"active": "true"}, timeout=5)
    answer.raise_for_status()
    return [a for a in answer.json() if a["labels"].get("alertname") == name]


def _epoch(stamp: str) -> float:
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def wait_fired(name: str, event: str, since: float, timeout: float = 120) -> Fired:
    """Wait until Alertmanager holds `name`; seconds from `since` (epoch) to its startsAt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            alerts = firing(name)
        except httpx.HTTPError:
            alerts = []
        if alerts:
            started = min(_epoch(str(a["startsAt"])) for a in alerts)
            return Fired(name, event, max(0.0, started - since))
        time.sleep(1)
    raise TimeoutError(f"{name} did not reach Alertmanager within {timeout:.0f}s of {event}")


def when(action: Callable[[], None]) -> float:
    """Run `action`; the epoch at which it finished (the event's moment)."""
    action()
    return time.time()


# The events, each made to happen through the running stack. `stack` is a stack.Stack.


def no_model(stack: Stack) -> Fired:
    """A stack that has promoted nothing yet: NoModelLoaded, counted from Prometheus's start."""
    state = stack.inspect(stack.containers("prometheus")[0])["State"]
    since = _epoch(str(state["StartedAt"]))  # type: ignore[index]
    return wait_fired(
        "NoModelLoaded", "no model promoted (fresh stack; from Prometheus's start)", since
    )


def drift(stack: Stack) -> Fired:
    """The demo's first drift.detected (its entry id is its moment)."""
    with stack.admin() as admin:
        first = admin.xrange("drift.detected.v1", count=1)
    if not first:
        raise RuntimeError("the demo published no drift.detected")
    since = int(first[0][0].decode().split("-")[0]) / 1000
    return wait_fired("DriftDetected", "drift.detected (the demo's first)", since)


def dead_letter(stack: Stack) -> Fired:
    """An entry ingest cannot decode: dead-lettered at once."""
    with stack.admin() as admin:
        since = when(lambda: admin.xadd("ingest.records.v1", {"__data__": b"not json"}) and None)
    return wait_fired("DeadLettersGrowing", "a malformed record, dead-lettered", since)


def lag(stack: Stack, entries: int = 3000) -> Fired:
    """Ingest stuck (its `hang` failpoint) while 3,000 records arrive: ConsumerLagging."""
    hang = {"DRIFTLOOP_TEST_INGEST_FAILPOINTS": "ingest.before_commit=hang"}
    stack.compose("up", "-d", "ingest", extra=hang)
    wait(lambda: healthy(8001), 120, "ingest (with the failpoint) healthy")
    try:
        with stack.admin() as admin:

            def burst() -> None:
                pipe = admin.pipeline(transaction=False)
                for _ in range(entries):
                    pipe.xadd("ingest.records.v1", {"__data__": b"not json"})
                pipe.execute()

            since = when(burst)
        return wait_fired("ConsumerLagging", f"ingest stuck, {entries} records behind", since)
    finally:
        stack.compose("up", "-d", "ingest")  # without the failpoint again
        wait(lambda: healthy(8001), 120, "ingest healthy again")


def dropped_logs(stack: Stack, rows: int = 16_000) -> Fired:
    """Redis frozen (docker pause) while predictions go on: the log buffers overflow."""
    data = CreditScenario(5).draw(1000, "before").features
    redis_container = stack.containers("redis")[0]
    docker("pause", redis_container)
    try:

        def predict() -> None:
            url = f"http://127.0.0.1:{PORTS['predictor']}/v1/predict/batch"
            for _ in range(rows // len(data)):
                httpx.post(url, json={"rows": data}, timeout=30).raise_for_status()

        since = when(predict)
        return wait_fired("PredictionLogsDropped", "Redis paused under predictions", since)
    finally:
        docker("unpause", redis_container)


def redis_memory(stack: Stack) -> Fired:
    """maxmemory set just above what Redis uses (85%): RedisMemoryHigh; then set back."""
    with stack.admin() as admin:
        original = admin.config_get("maxmemory")["maxmemory"]
        used = int(admin.info("memory")["used_memory"])
        try:
            since = when(lambda: admin.config_set("maxmemory", int(used / 0.85)) and None)
            return wait_fired("RedisMemoryHigh", "maxmemory at used/0.85", since)
        finally:
            admin.config_set("maxmemory", original)
