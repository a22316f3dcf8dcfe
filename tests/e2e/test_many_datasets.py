"""One stack, three datasets registered at run time, each with its own kind of model.

- `credit` (binary) trains with a user's entry point (`driftloop_example_models.custom`,
  whose class the services trust through `DRIFTLOOP_TRUSTED_MODULES`),
- `plants` (multiclass) serves a model trained elsewhere and uploaded (`models register`),
- `houses` (regression) trains with the default family.

Each drifts on its own: only its own model is retrained, and the retrain's correlation id is
its own drift event's. The predictor and the monitor are restarted between promotions and
still serve every champion. Everything goes through public interfaces (HTTP, streams).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from driftloop_contracts import DatasetSchema, Record, streams, utcnow
from driftloop_ml import feature_matrix
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.runner import Stack
from driftloop_sdk.scenario import (
    CreditScenario,
    HouseScenario,
    LabelledRows,
    Phase,
    PlantScenario,
)
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

from .test_loop import FAST_LOOP

pytestmark = pytest.mark.e2e

USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"
CREDIT = CreditScenario.schema.model_copy(update={"name": "credit"})
Scenario = CreditScenario | PlantScenario | HouseScenario


@pytest.fixture
def stack(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[Stack]:
    env = FAST_LOOP | {
        "PYTHONPATH": str(USER_MODELS),
        # the credit model holds a class of the user's package: trusted by configuration
        "DRIFTLOOP_TRUSTED_MODULES": "driftloop_example_models",
        "TRAINER_MIN_POST_DRIFT_ROWS": "300",
    }
    with Stack(
        tmp_path / "state", redis_url=redis_url, namespace=namespace, env=env, sink=None
    ) as running:
        yield running


def submit(redis_url: str, namespace: str, dataset: str, drawn: LabelledRows) -> None:
    publisher = EventPublisher(redis_url, namespace=namespace)
    now = utcnow()
    records = [
        Record(features=f, label=y, observed_at=now)
        for f, y in zip(drawn.features, drawn.labels, strict=True)
    ]
    publisher.submit_records(dataset, records)
    publisher.close()


def serving(client: DriftloopClient, dataset: str, row: dict[str, Any]) -> int:
    """The version answering `dataset` now (0: none yet)."""
    try:
        return int(client.predict(row, dataset=dataset)["model_version"])
    except Exception:  # 503/404 until a model serves
        return 0


def serve(client: DriftloopClient, dataset: str, scenario: Scenario, phase: Phase) -> int:
    """One 100-row request and its labels; the version that answered."""
    drawn = scenario.draw(100, phase)
    answer = client.predict_batch(drawn.features, dataset=dataset)
    client.send_labels(
        [
            {"prediction_id": p["prediction_id"], "label": y}
            for p, y in zip(answer["predictions"], drawn.labels, strict=True)
        ]
    )
    return int(answer["model_version"])


def uploaded_model(schema: DatasetSchema, drawn: LabelledRows) -> bytes:
    """A model trained elsewhere: a user's pipeline over the schema's features in order."""
    numeric = [i for i, f in enumerate(schema.features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(schema.features) if f.kind == "categorical"]
    columns = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    model = Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=500))])
    model.fit(feature_matrix(schema, drawn.features), np.array(drawn.labels))
    return sio.dumps(model)


def drift_until_retrained(
    client: DriftloopClient, scenarios: dict[str, Scenario], stack: Stack
) -> dict[str, int]:
    """Serve post-drift rows of every dataset given until each answers with a new version."""
    versions = {d: serve(client, d, s, "after") for d, s in scenarios.items()}
    first = dict(versions)
    for _ in range(120):
        if all(versions[d] > first[d] for d in scenarios):
            return versions
        stack.check_alive()
        for dataset, scenario in scenarios.items():
            versions[dataset] = serve(client, dataset, scenario, "after")
    raise AssertionError(f"not every dataset retrained after 12,000 rows each: {versions}")


def test_three_datasets_registered_at_run_time_drift_and_retrain_each_on_its_own(
    stack: Stack, redis_url: str, namespace: str
) -> None:
    scenarios: dict[str, Scenario] = {
        "credit": CreditScenario(seed=3),
        "plants": PlantScenario(seed=4),
        "houses": HouseScenario(seed=5),
    }
    client = DriftloopClient(stack.endpoints, admin_token=stack.admin_token)
    events = Streams(redis_url, namespace)
    try:
        entry = {"entry_point": "driftloop_example_models.custom:make_estimator"}
        client.register_dataset(CREDIT.model_dump(mode="json"), training=entry)
        client.register_dataset(PlantScenario.schema.model_dump(mode="json"))
        client.register_dataset(HouseScenario.schema.model_dump(mode="json"))

        # credit and houses train their first model; plants gets too few rows to train one
        submit(redis_url, namespace, "credit", scenarios["credit"].draw(1000, "before"))
        submit(redis_url, namespace, "houses", scenarios["houses"].draw(1000, "before"))
        submit(redis_url, namespace, "plants", scenarios["plants"].draw(300, "before"))
        plants_elsewhere = uploaded_model(
            PlantScenario.schema, PlantScenario(seed=9).draw(2000, "before")
        )
        eventually_sync(
            lambda: _upload(client, plants_elsewhere), timeout=60, what="plants rows in the trainer"
        )
        rows = {d: s.draw(1, "before").features[0] for d, s in scenarios.items()}
        eventually_sync(
            lambda: all(serving(client, d, rows[d]) == 1 for d in scenarios),
            timeout=90,
            what="v1 of every dataset served",
        )
        plants_v1 = client.lineage("plants", 1)
        assert plants_v1["trigger"] == "external"
        assert client.lineage("credit", 1)["params"]["entry_point"].startswith(
            "driftloop_example_models.custom"
        )

        # credit drifts alone: only credit retrains
        retrained = drift_until_retrained(client, {"credit": scenarios["credit"]}, stack)
        served = {d: serving(client, d, rows[d]) for d in scenarios}
        assert served == {"credit": retrained["credit"], "plants": 1, "houses": 1}
        _assert_each_retrain_follows_its_own_drift(events, {"credit"})

        restart_and_check_every_champion_serves(stack, client, rows)

        # plants and houses drift at once: each retrains, from its own drift
        others = {d: scenarios[d] for d in ("plants", "houses")}
        retrained = drift_until_retrained(client, others, stack)
        assert all(version > 1 for version in retrained.values())
        _assert_each_retrain_follows_its_own_drift(events, {"credit", "plants", "houses"})

        restart_and_check_every_champion_serves(stack, client, rows)
    finally:
        client.close()
        events.close()


def restart_and_check_every_champion_serves(
    stack: Stack, client: DriftloopClient, rows: dict[str, dict[str, Any]]
) -> None:
    """Restart predictor and monitor; each dataset then answers with the registry's champion
    (a retrain still in flight may promote a newer one meanwhile: compare until they agree)."""
    stack.restart("predictor")
    stack.restart("drift-monitor")

    def agree() -> bool:
        champions = {d: int(client.champion(d)["version"]) for d in rows}
        return {d: serving(client, d, rows[d]) for d in rows} == champions

    eventually_sync(agree, timeout=30, what="every dataset served by its champion")


def _upload(client: DriftloopClient, model: bytes) -> bool:
    try:
        client.register_model("plants", model, uploaded_by="e2e", filename="plants.skops")
    except Exception:  # 404 until the trainer has the dataset's rows
        return False
    return True


def _assert_each_retrain_follows_its_own_drift(events: Streams, datasets: set[str]) -> None:
    drifts = {e.event_id: e.dataset for e in events.read(streams.DRIFT_DETECTED)}
    retrains = [e for e in events.read(streams.TRAINING_COMPLETED) if e.trigger == "drift"]
    assert {r.dataset for r in retrains} == datasets
    for retrain in retrains:
        assert drifts[retrain.correlation_id] == retrain.dataset
