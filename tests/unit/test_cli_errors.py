"""Errors as one line that says what to do, never a traceback (unless --debug)."""

from __future__ import annotations

import httpx
import redis.exceptions as redis_errors
from driftloop_sdk.cli import app
from driftloop_sdk.cli_errors import render
from driftloop_sdk.client import DriftloopHTTPError
from driftloop_sdk.embedded_redis import free_port
from driftloop_sdk.tables import show, table
from rich.console import Console
from typer.testing import CliRunner


def refused(url: str) -> httpx.ConnectError:
    return httpx.ConnectError("[Errno 111] Connection refused", request=httpx.Request("GET", url))


def test_a_refused_connection_names_the_url_and_what_to_set() -> None:
    line = render(refused("http://127.0.0.1:9103/v1/models"))
    assert line == (
        "no service at http://127.0.0.1:9103: is `driftloop up` running? set DRIFTLOOP_URL "
        "or --base-port"
    )


def test_a_refusal_by_a_service_says_where_the_admin_token_comes_from() -> None:
    line = render(DriftloopHTTPError(401, "send the admin token as Authorization: Bearer"))
    assert "HTTP 401" in line and "DRIFTLOOP_ADMIN_TOKEN" in line and "admin.token" in line
    assert render(DriftloopHTTPError(422, "feature 'x' is unknown")) == (
        "feature 'x' is unknown (HTTP 422)"
    )


def test_redis_that_is_not_there_or_refuses_the_login_says_what_to_set() -> None:
    gone = render(redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6390."))
    assert "no Redis answers" in gone and "REDIS_URL" in gone
    login = render(redis_errors.AuthenticationError("WRONGPASS invalid username-password pair"))
    assert "REDIS_USERNAME/REDIS_PASSWORD" in login


def test_a_command_against_a_stopped_stack_prints_one_line_and_exits_1() -> None:
    env = {"DRIFTLOOP_URL": f"http://127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(app, ["models"], env=env)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no service at" in result.stderr and "Traceback" not in result.output


def test_debug_lets_the_traceback_through() -> None:
    env = {"DRIFTLOOP_URL": f"http://127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(app, ["--debug", "models"], env=env)
    assert isinstance(result.exception, httpx.ConnectError)


def test_a_table_wider_than_the_terminal_keeps_every_id_whole(capsys: object) -> None:
    console = Console(width=40, record=True)
    entry = "1795990671234-0"
    show(
        console,
        table(
            "dead letters", ("stream", "entry", "error"), [("data.ingested.v1", entry, "x" * 80)]
        ),
    )
    # the wide table is printed on the same file, at its own width: nothing cut or folded
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert entry in out and "x" * 80 in out and "…" not in out
