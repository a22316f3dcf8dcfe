"""Attacks on the running stack: fixtures shared by every attack family."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.streams import Streams


@pytest.fixture
def streams_io(redis_url: str, namespace: str) -> Iterator[Streams]:
    io = Streams(redis_url, namespace)
    yield io
    io.close()
