"""deploy/redis/start.sh: Redis starts with one ACL user per service, or not at all."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from driftloop_bus.secrets import placeholder_reason

from tests.deploy.support import TEMPLATE, credentials, real_passwords, start_redis

REFUSED = 78  # EX_CONFIG
MEMORY_ARGS = (
    "--maxmemory {maxmemory} --maxmemory-policy noeviction "
    "--auto-aof-rewrite-percentage 100 --auto-aof-rewrite-min-size 64mb"
)


def rendered(tmp_path: Path) -> Path:
    return tmp_path / "acl" / "users.acl"


def server_args(tmp_path: Path) -> str | None:
    path = tmp_path / "server-args"
    return path.read_text().strip() if path.exists() else None


def test_the_template_names_one_password_per_redis_user() -> None:
    named = set(re.findall(r">\$\{(DRIFTLOOP_REDIS_PASSWORD_[A-Z_]+)\}", TEMPLATE.read_text()))
    assert named == {credentials.password_variable(u) for u in credentials.REDIS_USERS}


def test_with_real_passwords_it_renders_hashes_only_and_starts_redis_with_the_acl(
    tmp_path: Path,
) -> None:
    passwords = real_passwords()
    done = start_redis(tmp_path, passwords, "--port", "6390")
    assert done.returncode == 0, done.stderr
    assert server_args(tmp_path) == (
        f"--port 6390 {MEMORY_ARGS.format(maxmemory='768mb')} --aclfile {rendered(tmp_path)}"
    )
    acl = rendered(tmp_path).read_text()
    assert stat.S_IMODE(rendered(tmp_path).stat().st_mode) == 0o600
    assert not any(p in acl for p in passwords.values()), "the ACL file holds no password"
    assert "${" not in acl
    assert "user default off" in acl
    users = re.findall(r"^user (\S+) on #[0-9a-f]{64} ", acl, flags=re.MULTILINE)
    assert sorted(users) == sorted(credentials.REDIS_USERS)


def test_a_password_may_come_from_a_file(tmp_path: Path) -> None:
    passwords = real_passwords()
    secret_file = tmp_path / "admin-password"
    secret_file.write_text(passwords.pop("DRIFTLOOP_REDIS_PASSWORD_ADMIN") + "\n")
    passwords["DRIFTLOOP_REDIS_PASSWORD_ADMIN_FILE"] = str(secret_file)
    done = start_redis(tmp_path, passwords)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^user admin on #[0-9a-f]{64} ", rendered(tmp_path).read_text(), re.M)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("replace-with-a-real-redis-password", "looks like a placeholder"),
        ("replace-with-a-real-secret-of-16+-characters", "looks like a placeholder"),
        ("CHANGEME-CHANGEME-2024", "looks like a placeholder"),
        ("my-example-password-123", "looks like a placeholder"),
        ("short-Pw1", "shorter than 16 characters"),
        ("abababababababababab", "too few distinct characters"),
        ("", "is not set"),
    ],
)
def test_redis_refuses_to_start_with_a_placeholder_password(
    tmp_path: Path, value: str, why: str
) -> None:
    passwords = real_passwords() | {"DRIFTLOOP_REDIS_PASSWORD_DRIFT_MONITOR": value}
    done = start_redis(tmp_path, passwords)
    assert done.returncode == REFUSED
    assert "refusing to start" in done.stderr
    assert "DRIFTLOOP_REDIS_PASSWORD_DRIFT_MONITOR" in done.stderr
    assert why in done.stderr
    assert server_args(tmp_path) is None, "redis-server never ran"
    assert not rendered(tmp_path).exists()


def test_redis_refuses_to_start_when_a_password_is_missing(tmp_path: Path) -> None:
    passwords = real_passwords()
    del passwords["DRIFTLOOP_REDIS_PASSWORD_CLIENT"]
    done = start_redis(tmp_path, passwords)
    assert done.returncode == REFUSED
    assert "DRIFTLOOP_REDIS_PASSWORD_CLIENT is not set" in done.stderr
    assert server_args(tmp_path) is None


@pytest.mark.parametrize(
    "value",
    [
        "replace-with-a-real-redis-password",
        "Example-Secret-Value-9",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "0123456789abcdef",
        "0123456789abcde",
        "p@ss#word/ab+cd==Xy",
        "placeholderXYZ1234567",
        "Zx9-pQ2_mK7vR4tY8wL3",
    ],
)
def test_the_script_and_the_services_share_one_placeholder_rule(tmp_path: Path, value: str) -> None:
    passwords = real_passwords() | {"DRIFTLOOP_REDIS_PASSWORD_INGEST": value}
    refused = start_redis(tmp_path, passwords).returncode == REFUSED
    assert refused == (placeholder_reason(value) is not None)


def test_a_template_that_leaves_the_default_user_alone_gets_it_switched_off(
    tmp_path: Path,
) -> None:
    template = tmp_path / "users.acl.template"
    template.write_text("user admin on >${DRIFTLOOP_REDIS_PASSWORD_ADMIN} ~* &* +@all\n")
    passwords = real_passwords() | {"DRIFTLOOP_REDIS_ACL_TEMPLATE": str(template)}
    assert start_redis(tmp_path, passwords).returncode == 0
    assert rendered(tmp_path).read_text().splitlines()[-1] == "user default off"


def test_a_template_with_a_password_outside_the_agreed_form_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "users.acl.template"
    template.write_text("user admin on >${HOME} ~* +@all\n")
    passwords = real_passwords() | {"DRIFTLOOP_REDIS_ACL_TEMPLATE": str(template)}
    done = start_redis(tmp_path, passwords)
    assert done.returncode == REFUSED and "DRIFTLOOP_REDIS_PASSWORD_<NAME>" in done.stderr


def maxmemory_given(tmp_path: Path, **env: str) -> str:
    done = start_redis(tmp_path, real_passwords() | env, "--appendonly", "yes")
    assert done.returncode == 0, done.stderr
    args = server_args(tmp_path) or ""
    assert "--maxmemory-policy noeviction" in args and "--auto-aof-rewrite-min-size 64mb" in args
    return args.split("--maxmemory ", 1)[1].split()[0]


def test_redis_gets_768mb_and_noeviction_by_default(tmp_path: Path) -> None:
    assert maxmemory_given(tmp_path) == "768mb"


def test_redis_maxmemory_sets_the_limit(tmp_path: Path) -> None:
    assert maxmemory_given(tmp_path, REDIS_MAXMEMORY="1GB") == "1gb"


def test_without_redis_maxmemory_the_limit_is_a_share_of_the_containers(tmp_path: Path) -> None:
    two_gib = str(2 * 1024**3)
    assert maxmemory_given(tmp_path, REDIS_MEMORY_LIMIT_BYTES=two_gib) == str(
        2 * 1024**3 // 100 * 60
    )
    assert maxmemory_given(
        tmp_path, REDIS_MEMORY_LIMIT_BYTES=two_gib, REDIS_MAXMEMORY_PERCENT="50"
    ) == str(2 * 1024**3 // 100 * 50)


def test_the_policy_given_on_the_command_line_cannot_turn_eviction_on(tmp_path: Path) -> None:
    done = start_redis(tmp_path, real_passwords(), "--maxmemory-policy", "allkeys-lru")
    assert done.returncode == 0
    args = server_args(tmp_path) or ""
    assert args.rindex("--maxmemory-policy noeviction") > args.index("allkeys-lru")


@pytest.mark.parametrize(
    ("env", "why"),
    [
        ({"REDIS_MAXMEMORY": "lots"}, "is not a size"),
        ({"REDIS_MEMORY_LIMIT_BYTES": "2Gi"}, "whole numbers"),
        ({"REDIS_MEMORY_LIMIT_BYTES": "1000", "REDIS_MAXMEMORY_PERCENT": "100"}, "headroom"),
    ],
)
def test_a_memory_setting_redis_cannot_use_stops_it_before_it_listens(
    tmp_path: Path, env: dict[str, str], why: str
) -> None:
    done = start_redis(tmp_path, real_passwords() | env)
    assert done.returncode == REFUSED and why in done.stderr
    assert server_args(tmp_path) is None
