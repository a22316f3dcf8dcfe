"""`driftloop redis`: the ACL file of the per-service Redis users; and the login options every
command that talks to Redis shares (the state folder's logins by default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError
from rich.console import Console

from . import redis_users
from .options import Namespace, RedisPassword, RedisUrl, RedisUsername, StateDir
from .profile import Options, Profile

redis_app = typer.Typer(help="Redis users: render the ACL file.", no_args_is_help=True)

__all__ = [
    "Namespace",
    "RedisPassword",
    "RedisUrl",
    "RedisUsername",
    "StateDir",
    "redis_app",
    "refusals",
]


@contextmanager
def refusals(user: str) -> Iterator[None]:
    """A login or permission Redis refuses: one line saying which user to log in as, exit 1."""
    try:
        yield
    except (AuthenticationError, NoPermissionError, ResponseError) as exc:
        text = str(exc)
        if not isinstance(exc, AuthenticationError | NoPermissionError) and not any(
            word in text for word in ("NOAUTH", "HELLO", "WRONGPASS", "NOPERM")
        ):
            raise
        Console(stderr=True).print(
            f"[red]error[/] Redis refused this: {text.splitlines()[0]}. This command logs in "
            f"as `{user}`: pass --redis-username/--redis-password (REDIS_USERNAME/"
            "REDIS_PASSWORD), or --state-dir of the `driftloop up` that holds its password.",
            highlight=False,
        )
        raise typer.Exit(1) from None


@redis_app.command("acl")
def acl_file(
    namespace: Namespace = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Render with the passwords of this `driftloop up` state folder (as SHA-256) "
            "instead of the template's ${DRIFTLOOP_REDIS_PASSWORD_<USER>} variables."
        ),
    ] = None,
    redis6: Annotated[
        bool, typer.Option("--redis6", help="Coarser rules for Redis 6.2 (no selectors).")
    ] = False,
    output: Annotated[Path | None, typer.Option(help="Write here (0600), not stdout.")] = None,
) -> None:
    """The ACL file: one user per service, client, admin; the default user off."""
    from driftloop_bus import acl  # the operator's side: the bus is installed with the services

    passwords = None
    if state_dir is not None:
        passwords = redis_users.ensure_passwords(state_dir, acl.USERS)
    namespace = Profile.load(Options(namespace=namespace)).namespace
    content = acl.render(namespace, passwords, selectors_supported=not redis6)
    if output is None:
        typer.echo(content, nl=False)
    else:
        redis_users.write_private(output, content)
