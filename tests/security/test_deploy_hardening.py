"""Attacks on the deployments' Redis and secrets, and the refusals they meet.

- Redis started the way compose and Kubernetes start it (deploy/redis/start.sh, a real
  redis-server): a client without the right password is refused, the default user is off, the
  ACL file on disk holds no password, and a placeholder password keeps Redis from listening.
- The Kubernetes base, applied as shipped: every secret in it is a placeholder that the
  service reading it refuses at start.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from driftloop_sdk import embedded_redis
from driftloop_sdk.embedded_redis import free_port, redis_server_binary, wait_for_port
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.deploy.support import TEMPLATE, credentials, kustomize, real_passwords, start_redis

# --- Redis as the deployments start it ------------------------------------------------------


def server_version(binary: Path) -> tuple[int, ...]:
    env = _server_env(binary)
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, env=env)
    found = re.search(r"v=(\d+)\.(\d+)", out.stdout)
    return tuple(int(x) for x in found.groups()) if found else (0,)


def _server_env(binary: Path) -> dict[str, str]:
    """The bootstrapped Redis 7 needs its libraries on LD_LIBRARY_PATH (embedded_redis knows)."""
    server_env = getattr(embedded_redis, "server_env", None)
    return server_env(binary) if server_env else dict(os.environ)


def connect(port: int, username: str | None = None, password: str | None = None) -> redis.Redis:
    """A client that reports a refusal at once (redis-py retries failed logins by default)."""
    return redis.Redis(port=port, username=username, password=password, retry=Retry(NoBackoff(), 0))


@dataclass
class DeployedRedis:
    port: int
    passwords: dict[str, str]
    acl_file: Path

    def as_user(self, user: str, password: str | None = None) -> redis.Redis:
        secret = password or self.passwords[credentials.password_variable(user)]
        return connect(self.port, user, secret)


@pytest.fixture(scope="module")
def deployed_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedRedis]:
    binary = Path(os.environ.get("DRIFTLOOP_REDIS_SERVER") or redis_server_binary())
    uses_selectors = "%R~" in TEMPLATE.read_text() or "(" in TEMPLATE.read_text()
    if uses_selectors and server_version(binary) < (7,):
        pytest.skip(f"{binary} is Redis < 7; the ACL template needs 7 (`make redis`)")
    tmp_path = tmp_path_factory.mktemp("redis")
    passwords = real_passwords()
    port = free_port()
    env = {
        **_server_env(binary),
        **passwords,
        "DRIFTLOOP_REDIS_SERVER": str(binary),
        "DRIFTLOOP_REDIS_ACL_FILE": str(tmp_path / "acl" / "users.acl"),
    }
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        ["sh", str(TEMPLATE.parent / "start.sh"), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, timeout=10)
        yield DeployedRedis(port, passwords, tmp_path / "acl" / "users.acl")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_anonymous_client_is_refused(deployed_redis: DeployedRedis) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):
        connect(deployed_redis.port).ping()


def test_the_default_user_is_off(deployed_redis: DeployedRedis) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError, match="invalid username-password"):
        connect(deployed_redis.port, "default", "any-password-1").ping()


@pytest.mark.parametrize("user", credentials.REDIS_USERS)
def test_another_users_password_or_a_guess_is_refused(
    deployed_redis: DeployedRedis, user: str
) -> None:
    others = [u for u in credentials.REDIS_USERS if u != user]
    stolen = deployed_redis.passwords[credentials.password_variable(others[0])]
    for wrong in (stolen, "guessed-password-123456"):
        with pytest.raises(redis.exceptions.AuthenticationError):
            deployed_redis.as_user(user, wrong).ping()


@pytest.mark.parametrize("user", credentials.REDIS_USERS)
def test_each_user_logs_in_with_its_own_password(deployed_redis: DeployedRedis, user: str) -> None:
    assert deployed_redis.as_user(user).ping()


def test_the_acl_file_on_disk_holds_no_password(deployed_redis: DeployedRedis) -> None:
    text = deployed_redis.acl_file.read_text()
    assert not any(p in text for p in deployed_redis.passwords.values())


def test_a_placeholder_password_keeps_redis_from_listening(tmp_path: Path) -> None:
    passwords = real_passwords() | {"DRIFTLOOP_REDIS_PASSWORD_ADMIN": "replace-with-a-real-one"}
    port = free_port()
    done = start_redis(tmp_path, passwords, "--port", str(port), server=str(redis_server_binary()))
    assert done.returncode == 78
    assert "DRIFTLOOP_REDIS_PASSWORD_ADMIN must be a real secret" in done.stderr
    with pytest.raises(TimeoutError):
        wait_for_port(port, timeout=0.5)


# --- the Kubernetes base, applied with its placeholders --------------------------------------

SETTINGS = {
    "ingest": "driftloop_ingest.settings:IngestSettings",
    "trainer": "driftloop_trainer.settings:TrainerSettings",
    "registry": "driftloop_registry.settings:RegistrySettings",
    "predictor": "driftloop_predictor.settings:PredictorSettings",
    "drift-monitor": "driftloop_drift_monitor.settings:MonitorSettings",
}
KEY_CHECKS = {
    "DRIFTLOOP_SIGNING_KEY": "signer",
    "DRIFTLOOP_TRAINER_PUBLIC_KEY": "trainer_verifier",
    "DRIFTLOOP_REGISTRY_PUBLIC_KEY": "registry_verifier",
}


def pod_environment(
    docs: list[dict[str, Any]], service: str, secrets: dict[str, dict[str, str]]
) -> tuple[dict[str, str], set[str]]:
    """A service pod's environment with `secrets` as the Secrets' data; and which vars are
    secret."""
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "LOG_FORMAT" in d["data"])
    pod = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == service)
    env = dict(config["data"])
    secret_vars = set()
    for var in pod["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif ref := var.get("valueFrom", {}).get("secretKeyRef"):
            env[var["name"]] = secrets[ref["name"]][ref["key"]]
            secret_vars.add(var["name"])
    return env, secret_vars


def secret_settings() -> list[tuple[str, str]]:
    docs = kustomize("base")
    placeholders = {d["metadata"]["name"]: d["stringData"] for d in docs if d["kind"] == "Secret"}
    return [
        (service, var)
        for service in SETTINGS
        for var in sorted(pod_environment(docs, service, placeholders)[1])
    ]


def start_checks(service: str, env: dict[str, str], variable: str) -> bool:
    """Run what a service checks at start; False when nothing on this branch reads `variable`."""
    module, name = SETTINGS[service].split(":")
    settings_class = getattr(__import__(module, fromlist=[name]), name)
    settings_class()
    if variable in KEY_CHECKS:
        try:
            from driftloop_core.signing import KeySettings  # type: ignore[import-not-found]
        except ImportError:
            return False
        getattr(KeySettings(), KEY_CHECKS[variable])(f"{service} starts")
        return True
    reads = {
        alias.upper()
        for field_name, field in settings_class.model_fields.items()
        for alias in _aliases(settings_class, field_name, field)
    }
    return variable in reads


def refusal_at_start(service: str, env: dict[str, str], variable: str) -> tuple[str | None, bool]:
    """(why the service refused to start, or None; whether anything read `variable`)."""
    try:
        read = start_checks(service, env, variable)
    except Exception as refusal:  # any refusal at start will do, if it names the variable
        return str(refusal), True
    return None, read


def _aliases(settings_class: Any, field_name: str, field: Any) -> list[str]:
    alias = field.validation_alias
    if alias is None:
        return [settings_class.model_config.get("env_prefix", "") + field_name]
    choices = getattr(alias, "choices", [alias])
    return [c for c in choices if isinstance(c, str)]


@pytest.mark.parametrize(("service", "variable"), secret_settings())
def test_a_service_given_the_bases_placeholder_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, service: str, variable: str
) -> None:
    docs = kustomize("base")
    placeholders = {d["metadata"]["name"]: d["stringData"] for d in docs if d["kind"] == "Secret"}
    real = credentials.k8s_secret_values(credentials.generate())
    env, secret_vars = pod_environment(docs, service, real)
    env[variable] = pod_environment(docs, service, placeholders)[0][variable]
    for name in secret_vars | set(KEY_CHECKS) | {"REDIS_PASSWORD_FILE", "REDIS_USERNAME"}:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    refusal, read = refusal_at_start(service, env, variable)
    if refusal is None and not read:
        pytest.skip(f"nothing on this branch reads {variable} yet (its helper's part of #11)")
    assert refusal is not None, f"{service} started with the placeholder in {variable}"
    assert variable in refusal
