"""Several predictor worker processes on one port: each follows promotions by itself."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from driftloop_contracts import ModelPromoted, streams
from driftloop_core import ContentStore
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import SCHEMA, CreditScenario

from tests.support.data import labelled_rows, promoted, trained
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.e2e
ROW = CreditScenario(3).draw(1, "before").features[0]


def promotion(store: ContentStore, version: int) -> ModelPromoted:
    return promoted(trained(store, labelled_rows(300, seed=version)), version, reason="manual")


def test_every_worker_swaps_to_the_promoted_model_and_metrics_add_up(
    namespace: str, tmp_path: Path
) -> None:
    env = {"PREDICTOR_WORKERS": "2", "LOG_LEVEL": "WARNING"}
    with Stack(
        tmp_path / "state",
        schemas=(SCHEMA,),
        redis_persistent=False,  # its own Redis: the predictor logs in as itself
        namespace=namespace,
        env=env,
        sink=None,
        services=["predictor"],
    ) as stack:
        store = ContentStore(str(tmp_path / "state" / "store"))
        io = Streams(stack.redis_url, namespace, stack.login("admin"))  # as the registry
        url = f"{stack.url('predictor')}/v1/predict"
        try:
            io.publish(streams.MODEL_PROMOTED, promotion(store, 1))
            with httpx.Client(timeout=5) as http:

                def versions(n: int = 40) -> set[int]:
                    answers = [http.post(url, json={"features": ROW}) for _ in range(n)]
                    return {a.json()["model_version"] for a in answers if a.status_code == 200}

                eventually_sync(lambda: versions() == {1}, what="both workers serving v1")
                io.publish(streams.MODEL_PROMOTED, promotion(store, 2))
                eventually_sync(lambda: versions() == {2}, what="both workers serving v2")
                metrics = http.get(f"{stack.url('predictor')}/metrics").text
        finally:
            io.close()
    swaps = [
        line
        for line in metrics.splitlines()
        if line.startswith("driftloop_predictor_model_swaps_total")
    ]
    assert sum(float(line.split()[-1]) for line in swaps) == 4.0  # 2 workers x 2 swaps
