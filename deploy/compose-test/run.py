"""`make compose-test`: the stack under docker compose, checked end to end through its ports,
twice in a row on the same engine (up -> check -> down -> up -> check -> down).

Builds the images once (deploy/images.sh for the services; Redis, Prometheus, Alertmanager,
HAProxy and the Redis exporter from Debian's packages with --local-images). Then each run
generates fresh secrets (deploy/credentials.py) into a private temporary env file, brings the
stack up with Redis published on 127.0.0.1 only (deploy/compose/redis-published.yml) and a
test-only Prometheus configuration (alerting.py), and checks: every service healthy on its fixed
port (the predictor through its proxy on 8080); NoModelLoaded fires while nothing is promoted;
Redis refuses anonymous clients; the demo scenario through the ports (v1 -> drift -> retrain ->
v2) and DriftDetected; Prometheus scrapes every service, Redis's exporter and the proxy; the
predictor scaled to 2 behind the same port, both swapping to a newly promoted model and both
receiving requests; a service's process killed and restarted by Docker; a replica killed while
the proxy keeps answering; then DeadLettersGrowing, ConsumerLagging, PredictionLogsDropped and
RedisMemoryHigh, each for its event. Then it tears the stack down and checks that nothing of
it is left (containers, networks, volumes). Prints each run's checks and the alert table.

    python deploy/compose-test/run.py [--local-images] [--base-image IMAGE] [--runs N] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import alerting
import checks
from rich.table import Table
from stack import PORTS, ROOT, Stack, leftovers

sys.path.insert(0, str(ROOT / "deploy"))
from credentials import compose_env  # deploy/ is not a package

SERVICES = ["ingest", "trainer", "registry", "predictor", "drift-monitor"]
INFRA = ["redis", "predictor-proxy", "redis-exporter", "prometheus", "alertmanager"]
console = checks.console


@dataclass
class Check:
    what: str
    ok: bool
    seconds: float
    detail: str = ""


class Run:
    """One pass: up, every check, down; what each step did and how long it took."""

    def __init__(self, number: int, files: list[str], base_env: dict[str, str]) -> None:
        self.number = number
        self.workdir = Path(tempfile.mkdtemp(prefix="driftloop-ct-"))
        env_file = self.workdir / "compose.env"
        compose_env(env_file)
        secrets = read_env_file(env_file)
        prometheus_dir = alerting.test_prometheus_dir(self.workdir / "prometheus")
        env = {
            **base_env,
            "DRIFTLOOP_ENV_FILE": str(env_file),
            "DRIFTLOOP_TEST_PROMETHEUS_DIR": str(prometheus_dir),
        }
        self.stack = Stack(files, env, secrets)
        self.token = secrets["REGISTRY_ADMIN_TOKEN"]
        self.checks: list[Check] = []
        self.fired: list[alerting.Fired] = []

    def step(self, what: str, fn: Callable[[], str | None]) -> None:
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            self.checks.append(Check(what, True, time.monotonic() - t0, detail))
        except Exception as exc:
            self.checks.append(Check(what, False, time.monotonic() - t0, str(exc)[:300]))
            raise

    def alert(self, fire: Callable[[], alerting.Fired]) -> Callable[[], str]:
        def check() -> str:
            fired = fire()
            self.fired.append(fired)
            return f"{fired.rule} in Alertmanager {fired.seconds:.0f}s after: {fired.event}"

        return check

    def play(self) -> None:
        stack, step, alert = self.stack, self.step, self.alert
        step(
            "start redis, five services, proxy, exporter, prometheus, alertmanager",
            lambda: stack.compose("up", "-d", "--no-build", *INFRA, *SERVICES) and None,
        )
        step("every service healthy on its fixed port", checks.every_service_healthy)
        step("alert: no model", alert(lambda: alerting.no_model(stack)))
        step("redis refuses anonymous and wrong-password clients", checks.refuses_strangers)
        step(
            "demo through the fixed ports: v1, drift, retrain, v2",
            lambda: checks.play_demo(stack.secrets),
        )
        step("alert: drift", alert(lambda: alerting.drift(stack)))
        step(
            "prometheus scrapes every service, redis and the proxy",
            lambda: checks.scraped(set(SERVICES), 1, {"redis", "proxy"}),
        )
        step("prometheus loaded the alert rules", checks.rules_loaded)
        step("scale the predictor to 2 behind the proxy", lambda: checks.scale(stack))
        step(
            "both predictors swap to a newly promoted model",
            lambda: checks.both_swap(stack, self.token),
        )
        step("the proxy balances both replicas", checks.balanced)
        step("prometheus scrapes both predictors", lambda: checks.scraped({"predictor"}, 2))
        step(
            "a killed service is restarted and answers again",
            lambda: checks.restarts_after_kill(stack, "ingest", PORTS["ingest"]),
        )
        step(
            "a killed replica: the proxy keeps answering",
            lambda: checks.proxy_survives_a_replica_kill(stack),
        )
        step("alert: dead letters", alert(lambda: alerting.dead_letter(stack)))
        step("alert: consumer lag", alert(lambda: alerting.lag(stack)))
        step("alert: dropped prediction logs", alert(lambda: alerting.dropped_logs(stack)))
        step("alert: redis memory", alert(lambda: alerting.redis_memory(stack)))

    def tear_down(self) -> None:
        t0 = time.monotonic()
        self.stack.compose("down", "-v", "--remove-orphans", "-t", "5", check=False)
        left = leftovers()
        detail = "nothing left" if not left else f"left behind: {left}"
        self.checks.append(
            Check(
                "tear down: containers, networks, volumes", not left, time.monotonic() - t0, detail
            )
        )
        shutil.rmtree(self.workdir, ignore_errors=True)


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


def build(files: list[str], env: dict[str, str], local: bool) -> str:
    """The service images (deploy/images.sh), then the local infrastructure images."""
    t0 = time.monotonic()
    subprocess.run(["bash", "deploy/images.sh", *SERVICES], cwd=ROOT, env=env, check=True)
    services_s = time.monotonic() - t0
    if local:
        Stack(files, env).compose("build", *INFRA)
    return f"services {services_s:.0f}s, infrastructure {time.monotonic() - t0 - services_s:.0f}s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--local-images",
        action="store_true",
        help="build Redis, Prometheus, Alertmanager, HAProxy and the Redis "
        "exporter from Debian packages (no registry)",
    )
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "python:3.12-slim"))
    parser.add_argument("--runs", type=int, default=2, help="up/check/down passes (default 2)")
    parser.add_argument("--keep", action="store_true", help="leave the last stack running")
    args = parser.parse_args()
    files = [
        "docker-compose.yml",
        "deploy/compose/redis-published.yml",
        "deploy/compose-test/alerting.yml",
    ]
    if args.local_images:
        files.append("deploy/compose-test/docker-compose.local.yml")
    base_env = {
        **{k: v for k, v in os.environ.items() if k != "REGISTRY_ADMIN_TOKEN"},
        "BASE_IMAGE": args.base_image,
        "LOG_LEVEL": "WARNING",
        "COMPOSE_HTTP_TIMEOUT": "300",
    }
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="driftloop-ct-build-"))
    compose_env(scratch / "compose.env")  # compose reads its variables even to build or remove
    tool_env = {
        **base_env,
        "DRIFTLOOP_ENV_FILE": str(scratch / "compose.env"),
        "DRIFTLOOP_TEST_PROMETHEUS_DIR": str(scratch),
    }
    stale = leftovers()
    if stale:  # a stack a crashed run left: it would hold the ports
        console.print(f"removing {len(stale)} leftovers of an earlier run")
        Stack(files, tool_env).compose("down", "-v", "--remove-orphans", "-t", "5", check=False)
    t0 = time.monotonic()
    try:
        built = build(files, tool_env, args.local_images)
    except Exception as exc:
        console.print(f"[red]build failed[/]: {exc}")
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    console.print(f"images built in {time.monotonic() - t0:.0f}s ({built})")
    runs: list[Run] = []
    for number in range(1, args.runs + 1):
        run = Run(number, files, base_env)
        runs.append(run)
        try:
            run.play()
        except Exception:
            console.print_exception(max_frames=3)
        finally:
            if args.keep and number == args.runs:
                console.print(f"stack kept; its secrets: {run.workdir / 'compose.env'} (0600)")
            else:
                run.tear_down()
        print_run(run)
        if not all(c.ok for c in run.checks):
            break
    print_alerts(runs)
    console.print(f"compose test: {len(runs)} run(s), {time.monotonic() - started:.0f}s in all")
    expected = 19  # every step ran, and the stack came down
    complete = [
        r for r in runs if all(c.ok for c in r.checks) and len(r.checks) >= expected - args.keep
    ]
    return 0 if len(complete) == args.runs else 1


def print_run(run: Run) -> None:
    table = Table(title=f"compose test, run {run.number}")
    for column in ("check", "ok", "seconds", "detail"):
        table.add_column(column)
    for c in run.checks:
        table.add_row(c.what, "yes" if c.ok else "[red]NO[/]", f"{c.seconds:.1f}", c.detail)
    console.print(table)


def print_alerts(runs: list[Run]) -> None:
    table = Table(
        title="alerts: each rule fired for its event (seconds to Alertmanager's startsAt)"
    )
    for column in ("rule", "event", *(f"fired in s, run {r.number}" for r in runs)):
        table.add_column(column)
    by_rule: dict[str, dict[int, float]] = {}
    events: dict[str, str] = {}
    for r in runs:
        for f in r.fired:
            by_rule.setdefault(f.rule, {})[r.number] = f.seconds
            events[f.rule] = f.event
    for rule, seconds in by_rule.items():
        cells = [f"{seconds[r.number]:.0f}" if r.number in seconds else "-" for r in runs]
        table.add_row(rule, events[rule], *cells)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
