"""What `driftloop up` leaves for the CLI: the profile (where the stack is) and the admin token,
both in the state folder, 0600. The token is made once and printed only then."""

from __future__ import annotations

import secrets
from pathlib import Path

from rich.console import Console

from . import profile as profiles
from . import redis_users
from .runner import Stack
from .tables import show, table


def admin_token(state_dir: Path) -> tuple[str, bool]:
    """The state folder's admin token, created the first time: (token, created)."""
    return profiles.ensure_admin_token(state_dir, lambda: secrets.token_urlsafe(24))


def write_profile(stack: Stack, base_port: int) -> Path:
    state_dir = stack.state_dir.resolve()
    values = {
        "url": f"http://127.0.0.1:{base_port}",
        "redis_url": stack.redis_url,
        "namespace": stack.namespace,
        "state_dir": str(state_dir),
        "admin_token_file": str(state_dir / profiles.TOKEN_FILE),
    }
    if (shards := stack.layout.shards) > 1:
        values["redis_shards"] = str(shards)
    return profiles.write_file(state_dir / profiles.PROFILE_FILE, values)


def print_up(console: Console, stack: Stack, profile: Path, created: bool) -> None:
    rows = [("redis", stack.redis_url), ("schema files", str(stack.schema_dir))]
    rows += [(name, stack.url(name)) for name in stack.ports]
    show(console, table("driftloop is up", ("service", "url"), rows))
    token_file = stack.state_dir / profiles.TOKEN_FILE
    if created:
        console.print(
            f"admin token (stored once in {token_file}, 0600; the CLI reads it from there): "
            f"{stack.admin_token}",
            highlight=False,
        )
    else:
        console.print(f"admin token: in {token_file} (0600; the CLI reads it)", highlight=False)
    here = profile.resolve().parent == profiles.DEFAULT_STATE.resolve()
    where = "" if here else f"; from elsewhere: export DRIFTLOOP_PROFILE={profile.resolve()}"
    console.print(f"profile for the CLI: {profile}{where}", highlight=False)
    if not stack.given_keys:
        console.print(f"signing keys (trainer, registry): {stack.key_files.directory}")
    if stack.acl:
        console.print(
            f"Redis users (default user off): passwords in {redis_users.folder(stack.state_dir)}/ "
            "(0600); `driftloop publish` logs in as client, `driftloop dlq` as admin, from there",
            highlight=False,
        )
