"""The stack under test: docker-compose calls, containers, Redis as `admin`, waiting."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "driftloop-ct"
#: Host ports: each service's own, the predictors' proxy (the one predictor port), Prometheus,
#: Alertmanager; Redis on 6379 (deploy/compose/redis-published.yml, 127.0.0.1 only).
PORTS = {
    "ingest": 8001,
    "trainer": 8002,
    "registry": 8003,
    "predictor": 8080,
    "drift-monitor": 8005,
}
PROMETHEUS = "http://127.0.0.1:9090"
#: A process inside a container that SIGKILLs every other process but PID 1 (docker-init): what a
#: crash, the OOM killer or a failpoint's `crash` does to the service.
KILL_SERVICE = (
    "import os, signal\n"
    "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
    "    if pid not in (1, os.getpid()):\n"
    "        os.kill(pid, signal.SIGKILL)\n"
)


@dataclass
class Stack:
    files: list[str]
    env: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True, extra: dict[str, str] | None = None) -> str:
        files_args = [a for f in self.files for a in ("-f", f)]
        command = ["docker-compose", "--env-file", self.env["DRIFTLOOP_ENV_FILE"], "-p", PROJECT]
        command += [*files_args, *args]
        env = {**self.env, **(extra or {})}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def inspect(self, container: str) -> dict[str, object]:
        out = docker("inspect", container)
        return dict(json.loads(out)[0])

    def admin(self) -> redis.Redis:
        return redis.Redis(
            port=6379, username="admin", password=self.secrets["DRIFTLOOP_REDIS_PASSWORD_ADMIN"]
        )


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


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


def prometheus_query(query: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": query}, timeout=5).json()
    return list(answer["data"]["result"])


def leftovers() -> list[str]:
    """Containers, networks and volumes of the test's compose project still on the engine."""
    label = f"label=com.docker.compose.project={PROJECT}"
    found = docker("ps", "-aq", "--filter", label).split()
    found += docker("network", "ls", "-q", "--filter", label).split()
    found += docker("volume", "ls", "-q", "--filter", label).split()
    return found
