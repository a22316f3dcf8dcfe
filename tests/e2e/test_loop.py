"""The whole loop as processes, driven only through public interfaces.

Records go in through the stream, predictions and labels over HTTP. The test asserts that a
second model is promoted *because of* a drift event and on live evidence: the retrained
candidate passes the offline gate, shadows the champion in a live trial fed by the labels the
test keeps sending, and the trial promotes it; one correlation id runs from the drift through
the retraining and the trial to the promotion, and the predictor then answers with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from driftloop_contracts import Record, streams, utcnow
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import CreditScenario, Phase

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.e2e

FAST_LOOP = {
    "LOG_LEVEL": "WARNING",
    "TRAINER_MIN_INITIAL_ROWS": "1000",
    "TRAINER_MIN_POST_DRIFT_ROWS": "400",
    "MONITOR_WINDOW_SIZE": "200",
    "MONITOR_MIN_LABELS": "100",
    "MONITOR_LABEL_WINDOW": "200",
    "PREDICTOR_LOG_FLUSH_MS": "50",
    "REGISTRY_LIVE_TRIAL": "shadow",
}


@pytest.fixture
def stack(namespace: str, tmp_path: Path) -> Iterator[Stack]:
    """Its own Redis, as `driftloop up` runs it: one ACL user per service, default user off
    (so every NOPERM the rules would cause in production fails this loop)."""
    with Stack(
        tmp_path / "state",
        schemas=(CreditScenario.schema,),
        redis_persistent=False,
        namespace=namespace,
        env=FAST_LOOP,
        sink=None,
    ) as running:
        yield running


def serve(
    client: DriftloopClient, scenario: CreditScenario, phase: Phase, rows: int
) -> tuple[int, float]:
    """Predict `rows` rows over HTTP, send their labels over HTTP; (last version, accuracy)."""
    right, version = 0, 0
    for _ in range(rows // 100):
        drawn = scenario.draw(100, phase)
        answer = client.predict_batch(drawn.features)
        version = answer["model_version"]
        predictions = answer["predictions"]
        right += sum(p["prediction"] == y for p, y in zip(predictions, drawn.labels, strict=True))
        client.send_labels(
            [
                {"prediction_id": p["prediction_id"], "label": y}
                for p, y in zip(predictions, drawn.labels, strict=True)
            ]
        )
    return version, right / rows


def test_drift_retrains_promotes_and_serves_a_new_model_with_one_correlation_id(
    stack: Stack, namespace: str
) -> None:
    scenario = CreditScenario(seed=21)
    client = DriftloopClient(stack.endpoints)
    io = Streams(stack.redis_url, namespace, stack.login("admin"))
    try:
        initial = scenario.draw(1000, "before")
        now = utcnow()
        publisher = EventPublisher(
            stack.redis_url, namespace=namespace, login=stack.login("client")
        )
        publisher.submit_records(
            "demo",
            [
                Record(features=f, label=y, observed_at=now)
                for f, y in zip(initial.features, initial.labels, strict=True)
            ],
        )
        publisher.close()
        eventually_sync(lambda: _serving(client) == 1, timeout=60, what="v1 served")

        version, before = serve(client, scenario, "before", 400)
        assert version == 1 and before > 0.75

        version = until_a_new_model_serves(
            stack, client, io, lambda: serve(client, scenario, "after", 200)[0], limit=8000
        )

        drift_ids = {e.event_id for e in io.read(streams.DRIFT_DETECTED)}
        retrains = {e.event_id: e for e in io.read(streams.TRAINING_COMPLETED)}
        promoted = {e.model_version: e for e in io.read(streams.MODEL_PROMOTED)}
        trials = {e.trial_id: e for e in io.read(streams.TRIAL_STARTED)}
        decided = {e.event_id: e for e in io.read(streams.TRIAL_DECIDED)}
        assert drift_ids and trials
        won = decided[promoted[version].causation_id]  # promoted by the trial's decision
        assert (promoted[version].reason, won.decision) == ("trial", "promoted")
        assert won.evidence.statistic >= won.evidence.upper
        retrain = retrains[trials[won.trial_id].causation_id]
        assert retrain.trigger == "drift" and retrain.correlation_id in drift_ids
        assert promoted[version].correlation_id == retrain.correlation_id
        assert promoted[version].previous_version == 1

        _, recovered = serve(client, scenario, "after", 400)
        assert recovered > 0.7
        lineage = client.lineage("demo", version)
        assert lineage["trigger"] == "drift" and lineage["correlation_id"] in {
            str(i) for i in drift_ids
        }
    finally:
        client.close()
        io.close()


def until_a_new_model_serves(
    stack: Stack, client: DriftloopClient, io: Streams, serve_200: Callable[[], int], limit: int
) -> int:
    """Serve post-drift rows, 200 at a time, until the registry promotes a model after v1 (the
    loop's job: within `limit` rows), then wait for the predictor to serve it (loading it is
    not counted in rows: a fast client would count thousands). The version then served."""
    rows = 0
    while serve_200() == 1 and _newest_promoted(io) == 1:
        stack.check_alive()
        rows += 200
        assert rows < limit, f"no new model promoted after {limit:,} post-drift rows"

    def new_model() -> int:
        served = _serving(client)
        return served if served > 1 else 0

    return eventually_sync(new_model, timeout=30, what="the promoted model served")


def _newest_promoted(io: Streams) -> int:
    return max((e.model_version for e in io.read(streams.MODEL_PROMOTED)), default=0)


def _serving(client: DriftloopClient) -> int:
    try:
        return int(client.serving_model()["model_version"])
    except Exception:
        return 0
