"""The registry judging regression models as a running service: a first model on its R2, a
retrained one against the champion on the shared holdout's absolute errors (Wilcoxon), and a
candidate no better than the champion kept out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from driftloop_contracts import TrainingCompleted, TrainingRequested, streams, utcnow
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_registry.bootstrap import build_app
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.scenario import HouseScenario, Phase
from driftloop_trainer.runs import completed_event
from driftloop_trainer.training import TrainingConfig, train
from fastapi.testclient import TestClient

from tests.support.streams import Streams

SCHEMA = HouseScenario.schema


def house_rows(n: int, phase: Phase, start: datetime, seed: int) -> list[LabelledRow]:
    drawn = HouseScenario(seed).draw(n, phase)
    return [
        LabelledRow(f, y, start + timedelta(milliseconds=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def trained(store: ContentStore, rows: list[LabelledRow]) -> TrainingCompleted:
    cause = TrainingRequested(producer="test", dataset=SCHEMA.name)
    model = train(SCHEMA, rows, TrainingConfig())
    return completed_event(store, cause, "test", "initial", model, ["v-test"], 42)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def client(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path
) -> Iterator[TestClient]:
    settings = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
        min_r2=0.5,
        min_mae_improvement=0.05,
    )
    with TestClient(build_app(settings)) as running:
        yield running


def test_regression_candidates_are_judged_on_their_errors_against_the_champion(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    start = utcnow()
    first = trained(store, house_rows(400, "before", start, seed=1))
    streams_io.publish(streams.TRAINING_COMPLETED, first)
    (v1,) = streams_io.wait(streams.MODEL_PROMOTED)
    assert v1.reason == "gate" and v1.metrics.r2 is not None and v1.metrics.r2 > 0.5

    # The same relation, other rows: judged on its own holdout, it does not beat v1 there.
    same = trained(store, house_rows(400, "before", start + timedelta(seconds=10), seed=2))
    streams_io.publish(streams.TRAINING_COMPLETED, same)
    (rejected,) = streams_io.wait(streams.MODEL_REJECTED)
    assert "champion v1" in rejected.reason and "MAE" in rejected.reason

    # After the relation changed: the retrained model's errors on the new rows are far smaller.
    after = trained(store, house_rows(400, "after", start + timedelta(seconds=20), seed=3))
    streams_io.publish(streams.TRAINING_COMPLETED, after)
    promotions = streams_io.wait(streams.MODEL_PROMOTED, 2)
    v3 = promotions[-1]
    assert v3.model_version == 3 and v3.previous_version == 1
    lineage = client.get("/v1/models/houses/3/lineage").json()
    assert "Wilcoxon p=" in lineage["decision"]["reason"]
    assert lineage["decision"]["champion"]["mae"] > 2 * lineage["decision"]["candidate"]["mae"]
