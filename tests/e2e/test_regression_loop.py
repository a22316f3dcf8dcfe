"""A regression dataset through the whole loop, as processes, through public interfaces only:
it trains, is promoted, serves numbers; labels come back as numbers (as text, the way the SDK
sends them); a change in the target relation raises performance drift, and the retrained model
is promoted through the gate's paired test and served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from driftloop_contracts import Record, streams, utcnow
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import HouseScenario, Phase

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

from .test_loop import FAST_LOOP, until_a_new_model_serves

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(namespace: str, tmp_path: Path) -> Iterator[Stack]:
    with Stack(
        tmp_path / "state",
        schemas=(HouseScenario.schema,),
        redis_persistent=False,  # its own Redis, one ACL user per service
        namespace=namespace,
        env=FAST_LOOP | {"DRIFTLOOP_DATASET": "houses"},
        sink=None,
    ) as running:
        yield running


def serve(
    client: DriftloopClient, scenario: HouseScenario, phase: Phase, rows: int
) -> tuple[int, float]:
    """Predict `rows` rows over HTTP, send their labels back; (last version, MAE)."""
    errors: list[float] = []
    version = 0
    for _ in range(rows // 100):
        drawn = scenario.draw(100, phase)
        answer = client.predict_batch(drawn.features)
        version = answer["model_version"]
        predictions = answer["predictions"]
        assert "classes" not in answer and "probability" not in predictions[0]
        values = [p["prediction"] for p in predictions]
        assert all(isinstance(v, float) for v in values)
        errors += np.abs(np.array(values) - np.array(drawn.labels, dtype=float)).tolist()
        client.send_labels(
            [
                {"prediction_id": p["prediction_id"], "label": str(y)}
                for p, y in zip(predictions, drawn.labels, strict=True)
            ]
        )
    return version, float(np.mean(errors))


def test_a_regression_model_drifts_retrains_and_serves_again(stack: Stack, namespace: str) -> None:
    scenario = HouseScenario(seed=21)
    client = DriftloopClient(stack.endpoints)
    io = Streams(stack.redis_url, namespace, stack.login("admin"))
    try:
        initial = scenario.draw(1000, "before")
        now = utcnow()
        publisher = EventPublisher(
            stack.redis_url, namespace=namespace, login=stack.login("client")
        )
        publisher.submit_records(
            "houses",
            [
                Record(features=f, label=float(y), observed_at=now)
                for f, y in zip(initial.features, initial.labels, strict=True)
            ],
        )
        publisher.close()
        eventually_sync(lambda: _serving(client) == 1, timeout=60, what="v1 served")
        single = client.predict(initial.features[0])
        assert isinstance(single["prediction"], float) and "probabilities" not in single

        version, before = serve(client, scenario, "before", 400)
        assert version == 1 and before < 20  # noise sd 12: MAE about 10

        version = until_a_new_model_serves(
            stack, client, io, lambda: serve(client, scenario, "after", 200)[0], limit=6000
        )

        drifts = {e.event_id: e for e in io.read(streams.DRIFT_DETECTED)}
        assert "performance" in {e.kind for e in drifts.values()}
        promoted = {e.model_version: e for e in io.read(streams.MODEL_PROMOTED)}
        assert promoted[version].correlation_id in drifts
        assert promoted[version].metrics.mae is not None
        labelled = io.read(streams.PREDICTION_LABELLED)
        assert labelled and all(isinstance(y, float) for e in labelled for y in e.labels)

        _, recovered = serve(client, scenario, "after", 400)
        runs = [
            (e.trigger, e.training_rows, e.metrics.mae, e.metrics.r2)
            for e in io.read(streams.TRAINING_COMPLETED)
        ]
        assert recovered < 25, f"MAE {recovered:.1f} after the retrain; runs: {runs}"
    finally:
        client.close()
        io.close()


def _serving(client: DriftloopClient) -> int:
    try:
        return int(client.serving_model()["model_version"])
    except Exception:
        return 0
