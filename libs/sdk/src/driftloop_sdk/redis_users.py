"""Redis logins of a local stack: one generated password per ACL user, kept in the state folder.

``driftloop up`` creates them once (a folder 0700, a file 0600 per user) and starts Redis with
the ACL file rendered from them (passwords as SHA-256, the default user off); each service gets
its own user, and the CLI reads the `client` and `admin` passwords from here by default.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis

FOLDER = "redis-users"
ACL_FILE = "users.acl"


@dataclass(frozen=True)
class RedisLogin:
    """Username and password, passed to redis-py as separate arguments (never in the URL)."""

    username: str | None = None
    password: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password}

    def connect(self, url: str) -> Redis:
        return Redis.from_url(url, **self.kwargs())


def folder(state_dir: Path) -> Path:
    return state_dir / FOLDER


def password_file(state_dir: Path, user: str) -> Path:
    return folder(state_dir) / f"{user}.password"


def write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (0600 from the start, not chmod after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def ensure_passwords(state_dir: Path, users: tuple[str, ...]) -> dict[str, str]:
    """Each user's password: generated the first time, then read back (Redis persists)."""
    where = folder(state_dir)
    where.mkdir(parents=True, exist_ok=True)
    os.chmod(where, 0o700)
    passwords: dict[str, str] = {}
    for user in users:
        path = password_file(state_dir, user)
        if not path.exists():
            write_private(path, secrets.token_urlsafe(32) + "\n")
        os.chmod(path, 0o600)
        passwords[user] = path.read_text().strip()
    return passwords


def write_acl_file(state_dir: Path, content: str) -> Path:
    path = folder(state_dir) / ACL_FILE
    write_private(path, content)
    return path


def stored_login(state_dir: Path, user: str) -> RedisLogin | None:
    """The login a local stack generated for `user`, if that stack's state folder has one."""
    path = password_file(state_dir, user)
    if not path.is_file():
        return None
    return RedisLogin(user, path.read_text().strip())


def login_for(user: str, state_dir: Path, username: str | None, password: str | None) -> RedisLogin:
    """What the CLI connects as: the username/password given, else the state folder's `user`,
    else the default user (a Redis without ACLs)."""
    if username or password:
        return RedisLogin(username, password)
    return stored_login(state_dir, user) or RedisLogin()
