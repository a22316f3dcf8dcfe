"""Logs of an unexpected error: a plain traceback without locals in console mode (rich's
rendering with locals was 0.4-0.8 MB and blocked the loop for seconds), and the traceback's
text in JSON mode (it used to be `"exc_info": true`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog
from driftloop_core.telemetry import configure_logging, get_logger


@pytest.fixture
def restored() -> Iterator[None]:
    config, handlers = structlog.get_config(), logging.getLogger().handlers[:]
    yield
    structlog.reset_defaults()
    structlog.configure(**config)
    logging.getLogger().handlers[:] = handlers


def fail_with_big_locals() -> None:
    payload = {"rows": ["x" * 1000] * 2000}  # 2 MB a renderer with locals would print
    raise ValueError(f"bad input with {len(payload['rows'])} rows")


def log_failure(name: str) -> None:
    try:
        fail_with_big_locals()
    except ValueError:
        get_logger(name).exception("unexpected error", path="/v1/things")


def test_console_logs_show_the_traceback_without_locals(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("test", fmt="console")
    log_failure("console")
    out = capsys.readouterr().out
    assert "Traceback (most recent call last)" in out
    assert "ValueError: bad input with 2000 rows" in out and "fail_with_big_locals" in out
    assert "xxxxxxxxxx" not in out and len(out) < 5_000  # no locals, nothing to render


def test_json_logs_carry_the_traceback_text(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("test", fmt="json")
    log_failure("json")
    line = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "unexpected error" and line["path"] == "/v1/things"
    assert "Traceback (most recent call last)" in line["exception"]
    assert "ValueError: bad input with 2000 rows" in line["exception"]
    assert "exc_info" not in line
