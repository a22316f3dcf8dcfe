"""compose-test's checks of the running stack (each returns a detail line or raises)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import redis
from driftloop_contracts.keys import Keys
from driftloop_sdk.client import DriftloopClient, Endpoints
from driftloop_sdk.demo import DemoPlayer, report
from driftloop_sdk.redis_users import RedisLogin
from driftloop_sdk.shards import StreamSet
from redis.backoff import NoBackoff
from redis.retry import Retry
from rich.console import Console
from stack import KILL_SERVICE, PORTS, PROMETHEUS, Stack, docker, healthy, prometheus_query, wait

console = Console(width=160)


class ComposeStack:
    """The demo's view of a stack running under compose: endpoints on the published ports."""

    namespace = ""
    redis_url = "redis://127.0.0.1:6379/0"  # deploy/compose/redis-published.yml

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.secrets = secrets or {}

    def login(self, user: str) -> RedisLogin:
        """The Redis login of `user` (client: the demo's records; admin: its timeline)."""
        variable = "DRIFTLOOP_REDIS_PASSWORD_" + user.upper().replace("-", "_")
        return RedisLogin(user, self.secrets[variable])

    def streams(self, user: str) -> StreamSet:
        """The stack's streams (compose runs one Redis, unsharded)."""
        return StreamSet(self.login(user).connect(self.redis_url), Keys(self.namespace))

    @property
    def endpoints(self) -> Endpoints:
        names = ("ingest", "trainer", "registry", "predictor", "drift-monitor")
        return Endpoints(*(f"http://127.0.0.1:{PORTS[n]}" for n in names))

    def check_alive(self) -> None:
        pass  # compose restarts what dies; the checks below look at health


def every_service_healthy() -> str:
    for name, port in PORTS.items():
        wait(lambda p=port: healthy(p), 180, f"{name} healthy on {port}")  # type: ignore[misc]
    wait(lambda: httpx.get(f"{PROMETHEUS}/-/ready", timeout=3).is_success, 60, "prometheus")
    wait(lambda: httpx.get("http://127.0.0.1:9093/-/ready", timeout=3).is_success, 60, "alerts")
    return "ports " + ", ".join(f"{n} {p}" for n, p in PORTS.items()) + ", 9090, 9093"


def stranger(username: str | None = None, password: str | None = None) -> redis.Redis:
    """A client that gives up at the first refusal (redis-py retries failed logins)."""
    once = Retry(NoBackoff(), 0)
    return redis.Redis(port=6379, username=username, password=password, retry=once)


def refuses_strangers() -> str:
    refusals = []
    for client in (
        stranger(),
        stranger("admin", "not-the-password-x1"),
        stranger("default", "anything-at-all"),
    ):
        try:
            client.ping()
        except redis.exceptions.RedisError as exc:  # NOAUTH / WRONGPASS, as it should
            refusals.append(str(exc).split(".")[0][:60])
        else:
            raise RuntimeError("redis answered a client without valid credentials")
        finally:
            client.close()
    return "; ".join(refusals)


def play_demo(secrets: dict[str, str]) -> str:
    stack = ComposeStack(secrets)
    # The retrained v2 wins a live trial on labelled traffic: give it room on a loaded machine.
    result = DemoPlayer(stack, console, seed=11).play(max_drift_rows=100_000)
    ok = report(console, stack, result, int(time.time() * 1000))
    if not ok:
        raise RuntimeError("the loop did not close")
    return (
        f"v1 {result.accuracy_before:.3f} -> after drift {result.accuracy_after_v1:.3f} -> "
        f"v{result.new_version} {result.accuracy_after_new:.3f}"
    )


def _targets() -> list[dict[str, Any]]:
    answer = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=5).json()
    return list(answer["data"]["activeTargets"])


def scraped(services: set[str], per_service: int, jobs: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """`per_service` targets up for each service, and every job in `jobs` up."""

    def enough() -> bool:
        up: dict[str, int] = {}
        for t in _targets():
            if t["health"] == "up":
                name = t["labels"].get("service") or t["labels"]["job"]
                up[name] = up.get(name, 0) + 1
        return all(up.get(s, 0) >= per_service for s in services) and all(up.get(j) for j in jobs)

    wait(enough, 90, f"{per_service} target(s) up for {sorted(services)} and jobs {sorted(jobs)}")
    return f"{sum(t['health'] == 'up' for t in _targets())} targets up"


def rules_loaded() -> str:
    groups = httpx.get(f"{PROMETHEUS}/api/v1/rules", timeout=5).json()["data"]["groups"]
    names = [r["name"] for g in groups for r in g["rules"]]
    if "NoModelLoaded" not in names or "DriftDetected" not in names:
        raise RuntimeError(f"rules missing: {names}")
    return f"{len(names)} rules: {', '.join(names)}"


def replica_model(container: str) -> int:
    """The model version one replica serves, asked inside its container (no host port)."""
    code = (
        "import json, urllib.request; print(json.load(urllib.request.urlopen("
        "'http://127.0.0.1:8000/v1/model', timeout=3))['model_version'])"
    )
    return int(docker("exec", container, "python", "-c", code).strip())


def scale(stack: Stack, replicas: int = 2) -> str:
    stack.compose("up", "-d", "--no-recreate", "--scale", f"predictor={replicas}", "predictor")
    wait(lambda: len(stack.containers("predictor")) == replicas, 60, f"{replicas} predictors")
    wait(lambda: served_by_proxy() >= replicas, 120, f"the proxy sends to {replicas} replicas")
    return f"{replicas} replicas, all behind 127.0.0.1:{PORTS['predictor']}"


def served_by_proxy() -> int:
    """How many predictor replicas the proxy has up (HAProxy's metrics, through Prometheus)."""
    up = prometheus_query('haproxy_server_status{proxy="predictors",state="UP"} == 1')
    if not up:  # HAProxy < 2.7: one series per server, 1 when UP
        up = prometheus_query('haproxy_server_status{proxy="predictors"} == 1')
    return len(up)


def both_swap(stack: Stack, token: str) -> str:
    endpoints = ComposeStack().endpoints
    with DriftloopClient(endpoints, admin_token=token) as client:
        serving = client.serving_model()["model_version"]
        target = client.rollback("demo")["version"]  # the previous champion again: an event
    replicas = stack.containers("predictor")
    wait(lambda: {replica_model(c) for c in replicas} == {target}, 60, f"replicas on v{target}")
    return f"v{serving} -> rollback -> {len(replicas)} replicas serve v{target}"


def balanced(requests: int = 40) -> str:
    """Requests through the proxy reach every replica (HAProxy's per-server response counts)."""
    query = 'sum by (server) (haproxy_server_http_responses_total{proxy="predictors"})'
    before = {r["metric"]["server"]: float(r["value"][1]) for r in prometheus_query(query)}  # type: ignore[index]
    for _ in range(requests):
        httpx.get(f"http://127.0.0.1:{PORTS['predictor']}/v1/model", timeout=5).raise_for_status()

    def spread() -> bool:
        after = {r["metric"]["server"]: float(r["value"][1]) for r in prometheus_query(query)}  # type: ignore[index]
        grew = [s for s, v in after.items() if v > before.get(s, 0)]
        return len(grew) >= 2

    wait(spread, 30, "requests through the proxy reached two replicas")
    return f"{requests} requests through :{PORTS['predictor']} reached every replica"


def restarts_after_kill(stack: Stack, service: str, port: int) -> str:
    """SIGKILL the service's process inside its container; it answers again on its port."""
    container = stack.containers(service)[0]
    before = int(stack.inspect(container)["RestartCount"])  # type: ignore[call-overload]
    started = time.monotonic()
    docker("exec", container, "python", "-c", KILL_SERVICE, check=False)
    wait(lambda: int(stack.inspect(container)["RestartCount"]) > before, 60, f"{service} restarted")  # type: ignore[call-overload]
    wait(lambda: healthy(port), 120, f"{service} answers again")
    took = time.monotonic() - started
    return f"killed {service}'s process: restarted by Docker, answering on {port} after {took:.0f}s"


def proxy_survives_a_replica_kill(stack: Stack) -> str:
    """One replica's process killed: the proxy keeps answering through the other one."""
    victim = stack.containers("predictor")[0]
    before = int(stack.inspect(victim)["RestartCount"])  # type: ignore[call-overload]
    docker("exec", victim, "python", "-c", KILL_SERVICE, check=False)
    answered = failed = 0
    deadline = time.monotonic() + 120
    while int(stack.inspect(victim)["RestartCount"]) <= before or not _replica_up(victim):  # type: ignore[call-overload]
        if time.monotonic() > deadline:
            raise TimeoutError("the killed replica did not come back")
        try:
            url = f"http://127.0.0.1:{PORTS['predictor']}/v1/model"
            httpx.get(url, timeout=5).raise_for_status()
            answered += 1
        except httpx.HTTPError:
            failed += 1
        time.sleep(0.2)
    if answered == 0 or failed > 2:
        raise RuntimeError(f"the proxy answered {answered} and failed {failed} requests")
    return f"replica killed and back; through the proxy meanwhile: {answered} ok, {failed} failed"


def _replica_up(container: str) -> bool:
    try:
        replica_model(container)
    except RuntimeError:
        return False
    return True
