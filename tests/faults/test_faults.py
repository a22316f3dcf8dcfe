"""Fault injection, fast variants: each scenario loses nothing and does nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import Context
from .scenarios import SCENARIOS

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_loses_nothing_and_repeats_nothing(
    name: str, redis_url: str, tmp_path: Path
) -> None:
    result = SCENARIOS[name](Context(tmp_path, redis_url))
    print(result)
    assert result.lost == 0, result
    assert result.duplicated == 0, result
    assert result.effects_out > 0, result
    if name == "two-replicas":
        assert result.extra["shared"], f"one replica did all the work: {result.extra['handled']}"
    if name == "redis-down-small-buffer":
        assert result.extra["dropped"] > 0, "a 50-prediction buffer should have overflowed"
    if name.startswith("redis-down"):
        assert result.extra["failed_requests"] == 0, "the predictor must serve while Redis is down"
