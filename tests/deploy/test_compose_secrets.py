"""docker-compose.yml keeps Redis private: no published port, one ACL user per service, the
passwords and signing keys from a private env file that `make compose-env` generates."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from driftloop_bus.secrets import placeholder_reason

from tests.deploy.support import (
    PYTHON_SERVICES,
    ROOT,
    compose_config,
    compose_env,
    compose_services,
    credentials,
    published_ports,
    read_env_file,
)

PUBLISHED = "deploy/compose/redis-published.yml"


def test_redis_is_not_published_on_the_host(tmp_path: Path) -> None:
    redis = compose_services(compose_env(tmp_path))["redis"]
    assert "ports" not in redis, redis.get("ports")


def test_the_opt_in_override_publishes_redis_on_the_loopback_only(tmp_path: Path) -> None:
    redis = compose_services(compose_env(tmp_path), "docker-compose.yml", PUBLISHED)["redis"]
    assert published_ports(redis) == [("127.0.0.1", "6379")]


def test_every_published_port_is_on_the_loopback_unless_the_user_says_otherwise(
    tmp_path: Path,
) -> None:
    for name, service in compose_services(compose_env(tmp_path)).items():
        for host_ip, port in published_ports(service):
            assert host_ip == "127.0.0.1", (name, port)


def test_redis_starts_through_the_script_that_renders_the_acl_and_refuses_placeholders(
    tmp_path: Path,
) -> None:
    redis = compose_services(compose_env(tmp_path))["redis"]
    assert redis["entrypoint"] == ["/bin/sh", "/etc/driftloop/redis/start.sh"]
    assert "--appendonly" in redis["command"]
    assert redis["user"] == "redis" and redis["read_only"]
    assert "$$DRIFTLOOP_REDIS_PASSWORD_ADMIN" in " ".join(redis["healthcheck"]["test"])


def test_every_service_connects_as_its_own_redis_user(tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    secrets = read_env_file(env_file)
    services = compose_services(env_file)
    passwords = set()
    for name in PYTHON_SERVICES:
        env = services[name]["environment"]
        assert env["REDIS_USERNAME"] == name
        assert env["REDIS_PASSWORD"] == secrets[credentials.password_variable(name)]
        assert "@" not in env["REDIS_URL"], "credentials stay out of the URL"
        passwords.add(env["REDIS_PASSWORD"])
    assert len(passwords) == len(PYTHON_SERVICES)


def test_no_service_holds_another_users_password_only_redis_holds_them_all(
    tmp_path: Path,
) -> None:
    env_file = compose_env(tmp_path)
    secrets = read_env_file(env_file)
    services = compose_services(env_file)
    every = {credentials.password_variable(u) for u in credentials.REDIS_USERS}
    assert every <= set(services["redis"]["environment"])
    for name, service in services.items():
        if name == "redis":
            continue
        held = {k for k, v in secrets.items() if v in service.get("environment", {}).values()}
        own = {credentials.password_variable(name)} if name in PYTHON_SERVICES else set()
        if name == "console":  # its replay login, used only after the operator's token checks
            own.add(credentials.password_variable("console-admin"))
        if name == "redis-exporter":  # server statistics only (driftloop_bus.acl.EXPORTER)
            own.add(credentials.password_variable("exporter"))
        assert held & every == own, (name, held & every)


def test_signing_keys_go_only_to_the_processes_that_sign_or_verify(tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    secrets = read_env_file(env_file)
    services = compose_services(env_file)
    signing = {
        n: s.get("environment", {}).get("DRIFTLOOP_SIGNING_KEY") for n, s in services.items()
    }
    assert signing["trainer"] == secrets["DRIFTLOOP_TRAINER_SIGNING_KEY"]
    assert signing["registry"] == secrets["DRIFTLOOP_REGISTRY_SIGNING_KEY"]
    assert {n for n, key in signing.items() if key} == {"trainer", "registry"}
    for name in ("registry", "predictor", "drift-monitor"):
        env = services[name]["environment"]
        assert env["DRIFTLOOP_TRAINER_PUBLIC_KEY"] == secrets["DRIFTLOOP_TRAINER_PUBLIC_KEY"]
        assert env["DRIFTLOOP_REGISTRY_PUBLIC_KEY"] == secrets["DRIFTLOOP_REGISTRY_PUBLIC_KEY"]


def test_every_python_service_runs_under_init_read_only_without_capabilities(
    tmp_path: Path,
) -> None:
    services = compose_services(compose_env(tmp_path))
    for name in PYTHON_SERVICES:
        service = services[name]
        assert service["init"] is True, name
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_compose_refuses_to_start_without_the_env_file() -> None:
    done = compose_config(None)
    assert done.returncode != 0
    assert "make compose-env" in done.stderr


def test_the_env_file_is_private_and_holds_real_secrets(tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    secrets = read_env_file(env_file)
    for name, value in secrets.items():
        assert placeholder_reason(value) is None, name
    assert len(set(secrets.values())) == len(secrets), "every secret is its own"


def test_each_public_key_is_the_one_of_its_private_key(tmp_path: Path) -> None:
    secrets = read_env_file(compose_env(tmp_path))
    for signer in ("TRAINER", "REGISTRY"):
        private = base64.b64decode(secrets[f"DRIFTLOOP_{signer}_SIGNING_KEY"])
        public = base64.b64decode(secrets[f"DRIFTLOOP_{signer}_PUBLIC_KEY"])
        assert len(private) == len(public) == 32
        derived = Ed25519PrivateKey.from_private_bytes(private).public_key()
        assert derived.public_bytes(Encoding.Raw, PublicFormat.Raw) == public


def test_make_compose_env_never_replaces_secrets_a_stack_already_uses(tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    before = env_file.read_text()
    assert not credentials.compose_env(env_file)
    assert env_file.read_text() == before
    assert credentials.compose_env(env_file, force=True)
    assert env_file.read_text() != before


def test_the_generated_env_file_is_never_committed() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/compose/.env"], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0, "deploy/compose/.env must be in .gitignore"
