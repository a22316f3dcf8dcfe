"""Errors as one line that says what to do, never a traceback (`--debug` shows it).

The root command group catches what escapes a command: a service that is not there, a Redis
that refuses, an error a service answered with, a profile that cannot be read.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import redis.exceptions as redis_errors
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from .client import DriftloopHTTPError
from .profile import ProfileError

errors = Console(stderr=True, soft_wrap=True)
DEBUG_VARIABLE = "DRIFTLOOP_DEBUG"


def render(exc: BaseException) -> str:
    """The one line for an error (without the 'error' prefix)."""
    if isinstance(exc, httpx.TransportError):
        return _transport(exc)
    if isinstance(exc, DriftloopHTTPError):
        return _answered(exc)
    if isinstance(exc, redis_errors.AuthenticationError | redis_errors.NoPermissionError):
        return (
            f"Redis refused this login ({_first_line(exc)}): set REDIS_USERNAME/REDIS_PASSWORD "
            "(or --redis-username/--redis-password), or run from the folder of the `driftloop "
            "up` whose state folder holds the passwords (or set DRIFTLOOP_PROFILE)"
        )
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return (
            f"no Redis answers ({_first_line(exc)}): is `driftloop up` running? set REDIS_URL "
            "or --redis-url"
        )
    if isinstance(exc, redis_errors.ResponseError) and "NOPERM" in str(exc):
        return (
            f"Redis refused this command ({_first_line(exc)}): log in as a user allowed to "
            "(REDIS_USERNAME/REDIS_PASSWORD; a local stack's `admin` is used by default)"
        )
    if isinstance(exc, ProfileError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return f"{type(exc).__name__}: {_first_line(exc)} (run with --debug for the traceback)"


def _transport(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
        where = (
            f"{url.scheme}://{url.host}:{url.port}" if url.port else f"{url.scheme}://{url.host}"
        )
    except RuntimeError:  # no request attached
        where = "the service"
    if isinstance(exc, httpx.ConnectError):
        return f"no service at {where}: is `driftloop up` running? set DRIFTLOOP_URL or --base-port"
    if isinstance(exc, httpx.TimeoutException):
        return f"the service at {where} did not answer in time: is it overloaded or stuck?"
    return f"talking to {where} failed ({_first_line(exc)}): is it a driftloop service?"


def _answered(exc: DriftloopHTTPError) -> str:
    if exc.status in (401, 403):
        return (
            f"refused (HTTP {exc.status}): {exc.message}. The admin token is read from "
            "DRIFTLOOP_ADMIN_TOKEN, else the state folder's admin.token (`driftloop up` "
            "writes it)"
        )
    return f"{exc.message} (HTTP {exc.status})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def debugging(ctx: Any) -> bool:
    root = ctx.find_root() if ctx is not None else None
    if root is not None and isinstance(root.obj, dict) and root.obj.get("debug"):
        return True
    return bool(os.environ.get(DEBUG_VARIABLE))


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line; raise the returned Exit."""
    errors.print(f"[red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


class FriendlyGroup(TyperGroup):
    """The root group: what a command raises becomes one line and exit code 1."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own: exit codes, usage errors
        except BrokenPipeError:  # `driftloop events tail | head`: the reader had enough
            raise typer.Exit(0) from None
        except Exception as exc:
            if debugging(ctx):
                raise
            raise fail(render(exc)) from None
