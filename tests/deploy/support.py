"""What the deployment tests share: paths, the tools they run, the secrets generator, the
Redis start script run with a chosen environment."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
START_SH = DEPLOY / "redis" / "start.sh"
TEMPLATE = DEPLOY / "redis" / "users.acl.template"
PYTHON_SERVICES = ("ingest", "trainer", "registry", "predictor", "drift-monitor", "console")


def _load_credentials() -> ModuleType:
    """deploy/credentials.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location("deploy_credentials", DEPLOY / "credentials.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


credentials = _load_credentials()


def tool(name: str) -> str:
    found = shutil.which(name) or (ROOT / ".tools" / "bin" / name).as_posix()
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: `make tools` (part of `make test`) installs it")
    return found


def run(*command: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def compose_env(tmp_path: Path) -> Path:
    """A fresh env file, as `make compose-env` writes it."""
    path = tmp_path / "compose.env"
    assert credentials.compose_env(path)
    return path


def compose_config(env_file: Path | None, *files: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` of the given files (docker-compose.yml alone by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLOOP_", "REDIS"))}
    env.pop("REGISTRY_ADMIN_TOKEN", None)
    env.setdefault("BASE_IMAGE", "python:3.12-slim")
    command = [tool("docker-compose")]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    for f in files or ("docker-compose.yml",):
        command += ["-f", f]
    return subprocess.run([*command, "config"], cwd=ROOT, env=env, capture_output=True, text=True)


def compose_services(env_file: Path, *files: str) -> dict[str, Any]:
    done = compose_config(env_file, *files)
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    return services


def published_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host ip, host port) of each published port, whatever form the compose version prints
    (v1: "127.0.0.1:8001:8000/tcp"; v2: {host_ip, published, target})."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", "0.0.0.0"), str(port.get("published", ""))))
            continue
        parts = str(port).split("/")[0].split(":")
        ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        found.append((ip, parts[-2] if len(parts) >= 2 else ""))
    return found


@functools.cache
def _rendered(target: str) -> str:
    return run(tool("kubectl"), "kustomize", f"deploy/k8s/{target}")


def kustomize(target: str) -> list[dict[str, Any]]:
    """The manifests `kubectl kustomize deploy/k8s/<target>` renders (fresh objects each call)."""
    return [d for d in yaml.safe_load_all(_rendered(target)) if d]


def real_passwords() -> dict[str, str]:
    """A real password for every Redis user of the template, as start.sh reads them."""
    values = credentials.generate()
    return {
        credentials.password_variable(user): values[credentials.password_variable(user)]
        for user in credentials.REDIS_USERS
    }


def start_redis(
    tmp_path: Path, passwords: dict[str, str], *args: str, server: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run deploy/redis/start.sh; by default the "server" only records its arguments."""
    if server is None:
        fake = tmp_path / "fake-redis-server"
        fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/server-args\n')
        fake.chmod(0o755)
        server = str(fake)
    env = {
        "PATH": os.environ["PATH"],
        "DRIFTLOOP_REDIS_SERVER": server,
        "DRIFTLOOP_REDIS_ACL_FILE": str(tmp_path / "acl" / "users.acl"),
        **passwords,
    }
    return subprocess.run(
        ["sh", str(START_SH), *args], env=env, capture_output=True, text=True, timeout=30
    )
