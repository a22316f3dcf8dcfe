from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.streams import Streams


@pytest.fixture
def streams_io(redis_url: str, namespace: str) -> Iterator[Streams]:
    io = Streams(redis_url, namespace)
    yield io
    io.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
