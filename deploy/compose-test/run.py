"""`make compose-test`: the stack under docker compose, checked end to end through its ports.

Builds the images, generates fresh secrets (deploy/credentials.py: one Redis password per ACL
user, signing keys, admin token) into a private temporary env file, brings the stack up with
Redis published on 127.0.0.1 only (deploy/compose/redis-published.yml), checks that Redis refuses
anonymous clients, plays the demo scenario through the published ports (v1 -> drift -> retrain
-> v2; records go in over Redis as `client`, `admin` reads the timeline), checks that
Prometheus scrapes every service and loaded the alert rules, scales the predictor to 2 and
checks that both replicas swap to a newly promoted model, then tears everything down. Prints
what it checked and how long each step took.

    python deploy/compose-test/run.py [--local-images] [--base-image IMAGE] [--keep]
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

import httpx
import redis
from driftloop_sdk.client import DriftloopClient, Endpoints
from driftloop_sdk.demo import DemoPlayer, report
from driftloop_sdk.redis_users import RedisLogin
from redis.backoff import NoBackoff
from redis.retry import Retry
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
from credentials import compose_env, password_variable  # noqa: E402  (deploy/ is not a package)

PROJECT = "driftloop-ct"
SERVICES = ["redis", "ingest", "trainer", "registry", "predictor", "drift-monitor", "prometheus"]
PORTS = {
    "ingest": 8001,
    "trainer": 8002,
    "registry": 8003,
    "drift-monitor": 8005,
    "predictor": 8080,  # the first of 8080-8089 that was free: see `published`
}
PREDICTOR_REPLICAS: list[int] = []
console = Console(width=160)


@dataclass
class Check:
    what: str
    ok: bool
    seconds: float
    detail: str = ""


class ComposeStack:
    """The demo's view of a stack running under compose: endpoints on the published ports."""

    namespace = ""
    redis_url = "redis://127.0.0.1:6379/0"  # deploy/compose/redis-published.yml

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.secrets = secrets or {}

    def login(self, user: str) -> RedisLogin:
        """The Redis login of `user` (client: the demo's records; admin: its timeline)."""
        return RedisLogin(user, self.secrets[password_variable(user)])

    @property
    def endpoints(self) -> Endpoints:
        p = PORTS
        return Endpoints(
            *(
                f"http://127.0.0.1:{p[n]}"
                for n in ("ingest", "trainer", "registry", "predictor", "drift-monitor")
            )
        )

    def check_alive(self) -> None:
        pass  # compose restarts what dies; the checks below look at health


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


def compose(files: list[str], *args: str, env: dict[str, str], check: bool = True) -> str:
    files_args = [a for f in files for a in ("-f", f)]
    command = ["docker-compose", "--env-file", env["DRIFTLOOP_ENV_FILE"], "-p", PROJECT]
    command += [*files_args, *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def published(files: list[str], env: dict[str, str], service: str, index: int = 1) -> int:
    """The host port compose gave replica `index` of `service` (ranges hand out any free one)."""
    answer = compose(files, "port", f"--index={index}", service, "8000", env=env).strip()
    return int(answer.rsplit(":", 1)[1])


def wait(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s: {what}")
        time.sleep(1)


def healthy(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3).status_code == 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--local-images",
        action="store_true",
        help="build Redis and Prometheus from Debian packages (no registry)",
    )
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "python:3.12-slim"))
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    files = ["docker-compose.yml", "deploy/compose/redis-published.yml"]
    if args.local_images:
        files.append("deploy/compose-test/docker-compose.local.yml")
    env_file = Path(tempfile.mkdtemp(prefix="driftloop-ct-")) / "compose.env"
    compose_env(env_file)
    secrets_ = read_env_file(env_file)
    token = secrets_["REGISTRY_ADMIN_TOKEN"]
    env = {
        **{k: v for k, v in os.environ.items() if k != "REGISTRY_ADMIN_TOKEN"},
        "DRIFTLOOP_ENV_FILE": str(env_file),
        "BASE_IMAGE": args.base_image,
        "LOG_LEVEL": "WARNING",
        "COMPOSE_HTTP_TIMEOUT": "300",
    }
    checks: list[Check] = []
    started = time.monotonic()

    def step(what: str, fn: Callable[[], str | None]) -> None:
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            checks.append(Check(what, True, time.monotonic() - t0, detail))
        except Exception as exc:
            checks.append(Check(what, False, time.monotonic() - t0, str(exc)[:300]))
            raise

    try:
        step("build images", lambda: compose(files, "build", *SERVICES, env=env) and None)
        step(
            "start redis, five services, prometheus",
            lambda: compose(files, "up", "-d", *SERVICES, env=env) and None,
        )
        PORTS["predictor"] = published(files, env, "predictor")
        step(
            "every service healthy",
            lambda: (
                [
                    wait(lambda p=port: healthy(p), 180, f"{name} healthy")
                    for name, port in PORTS.items()
                ]
                and None
            ),
        )
        step("redis refuses anonymous and wrong-password clients", refuses_strangers)
        step(
            "demo through the published ports: v1, drift, retrain, v2",
            lambda: play_demo(secrets_),
        )
        step(
            "prometheus scrapes every service",
            lambda: scraped({"ingest", "trainer", "registry", "predictor", "drift-monitor"}, 1),
        )
        step("prometheus loaded the alert rules", rules_loaded)
        step("scale the predictor to 2", lambda: scale(files, env))
        step("both predictors swap to a newly promoted model", lambda: both_swap(token))
        step("prometheus scrapes both predictors", lambda: scraped({"predictor"}, 2))
    except Exception:
        console.print_exception(max_frames=3)
    finally:
        if not args.keep:
            t0 = time.monotonic()
            compose(files, "down", "-v", "--remove-orphans", env=env, check=False)
            checks.append(Check("tear down (volumes too)", True, time.monotonic() - t0))
            shutil.rmtree(env_file.parent, ignore_errors=True)
        else:
            console.print(f"stack kept; its secrets: {env_file} (0600)")
    table = Table(title=f"compose test: {time.monotonic() - started:.0f} s in all")
    for column in ("check", "ok", "seconds", "detail"):
        table.add_column(column)
    for c in checks:
        table.add_row(c.what, "yes" if c.ok else "[red]NO[/]", f"{c.seconds:.1f}", c.detail)
    console.print(table)
    expected = 10 if args.keep else 11  # every step ran (and the stack came down)
    return 0 if all(c.ok for c in checks) and len(checks) >= expected else 1


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
    result = DemoPlayer(stack, console, seed=11).play()
    ok = report(console, stack, result, int(time.time() * 1000))
    if not ok:
        raise RuntimeError("the loop did not close")
    return (
        f"v1 {result.accuracy_before:.3f} -> after drift {result.accuracy_after_v1:.3f} -> "
        f"v{result.new_version} {result.accuracy_after_new:.3f}"
    )


def _targets() -> list[dict[str, object]]:
    answer = httpx.get("http://127.0.0.1:9090/api/v1/targets", timeout=5).json()
    return list(answer["data"]["activeTargets"])


def scraped(services: set[str], per_service: int) -> str:
    def enough() -> bool:
        up: dict[str, int] = {}
        for t in _targets():
            labels = t["labels"]  # type: ignore[index]
            if t["health"] == "up":
                up[labels["service"]] = up.get(labels["service"], 0) + 1  # type: ignore[index]
        return all(up.get(s, 0) >= per_service for s in services)

    wait(enough, 90, f"{per_service} target(s) up for {sorted(services)}")
    return f"{len(_targets())} targets up"


def rules_loaded() -> str:
    groups = httpx.get("http://127.0.0.1:9090/api/v1/rules", timeout=5).json()["data"]["groups"]
    names = [r["name"] for g in groups for r in g["rules"]]
    if "NoModelLoaded" not in names or "DriftDetected" not in names:
        raise RuntimeError(f"rules missing: {names}")
    return f"{len(names)} rules: {', '.join(names)}"


def scale(files: list[str], env: dict[str, str]) -> str:
    compose(files, "up", "-d", "--no-recreate", "--scale", "predictor=2", "predictor", env=env)
    ports = [published(files, env, "predictor", i) for i in (1, 2)]
    wait(lambda: all(healthy(p) for p in ports), 180, "two predictors healthy")
    PREDICTOR_REPLICAS[:] = ports
    return f"predictors on {ports[0]} and {ports[1]}"


def both_swap(token: str) -> str:
    endpoints = ComposeStack().endpoints
    with DriftloopClient(endpoints, admin_token=token) as client:
        serving = client.serving_model()["model_version"]
        back = client.rollback("demo")  # the previous champion, promoted again: an event
        target = back["version"]

    def both() -> bool:
        versions = {
            httpx.get(f"http://127.0.0.1:{p}/v1/model", timeout=3).json()["model_version"]
            for p in PREDICTOR_REPLICAS
        }
        return versions == {target}

    wait(both, 60, f"both predictors on v{target}")
    return f"v{serving} -> rollback -> both replicas serve v{target}"


if __name__ == "__main__":
    sys.exit(main())
