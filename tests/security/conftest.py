"""Attacks on the running stack: fixtures shared by every attack family."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from tests.support.streams import Streams


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/security" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def plain_tracebacks() -> Iterator[None]:
    """Logs as the services configure them: a traceback as plain text, never rich's rendering
    with locals (structlog's default when nothing configured it, seconds per error)."""
    before = structlog.get_config()
    structlog.configure(
        processors=[
            *before["processors"][:-1],
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    )
    yield
    structlog.configure(**before)


@pytest.fixture
def streams_io(redis_url: str, namespace: str) -> Iterator[Streams]:
    io = Streams(redis_url, namespace)
    yield io
    io.close()
