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
from .redis_users import RedisLogin

redis_app = typer.Typer(help="Redis users: render the ACL file.", no_args_is_help=True)

RedisUrl = Annotated[
    str, typer.Option(envvar="REDIS_URL", help="Redis holding the streams (its address only).")
]
Namespace = Annotated[str, typer.Option(envvar="DRIFTLOOP_NAMESPACE", help="Stream prefix.")]
RedisUsername = Annotated[
    str | None,
    typer.Option(
        "--redis-username",
        envvar="REDIS_USERNAME",
        help="Redis ACL user (default: the state folder's client or admin login).",
    ),
]
RedisPassword = Annotated[
    str | None,
    typer.Option(
        "--redis-password", envvar="REDIS_PASSWORD", help="Its password.", show_default=False
    ),
]
StateDir = Annotated[
    Path, typer.Option(help="The `driftloop up` state folder holding the Redis logins.")
]
DEFAULT_STATE = Path(".driftloop/state")


def login(user: str, state_dir: Path, username: str | None, password: str | None) -> RedisLogin:
    """The login given on the command line or in the environment, else the state folder's."""
    return redis_users.login_for(user, state_dir, username, password)


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
    namespace: Namespace = "",
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
    content = acl.render(namespace, passwords, selectors_supported=not redis6)
    if output is None:
        typer.echo(content, nl=False)
    else:
        redis_users.write_private(output, content)
