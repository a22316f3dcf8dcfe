"""A running drift monitor for integration tests, and the data it watches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from driftloop_contracts import BlobRef, PredictionsLogged, TrainingCompleted
from driftloop_core import ContentStore
from driftloop_drift_monitor.bootstrap import build_app
from driftloop_drift_monitor.settings import MonitorSettings
from driftloop_ml import feature_matrix, load_artifact
from driftloop_sdk.scenario import CreditScenario, Phase
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.predictions import prediction_log

WINDOW = 200


class GatedStore(ContentStore):
    """The content store, with report writes a test controls: the first one fails if asked,
    and from the `hold_from`-th one on each waits until the test sets `released`."""

    def __init__(self, url: str, *, fail_first: bool = False, hold_from: int | None = None):
        super().__init__(url)
        self.fail_first = fail_first
        self.hold_from = hold_from
        self.report_puts = 0
        self.released = threading.Event()

    def put(self, data: bytes, *, kind: str, suffix: str = "") -> BlobRef:
        if kind.startswith("reports/"):
            self.report_puts += 1
            if self.fail_first and self.report_puts == 1:
                raise OSError("the store is unavailable (test)")
            if self.hold_from is not None and self.report_puts >= self.hold_from:
                assert self.released.wait(30), "the test never released the store"
        return super().put(data, kind=kind, suffix=suffix)


def settings(
    redis_url: str, namespace: str, store: ContentStore, **overrides: Any
) -> MonitorSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "namespace": namespace,
        "store_url": store.url,
        "window_size": WINDOW,
        "consecutive_windows": 2,
        "min_labels": 50,
        "label_window": 100,
        "reclaim_idle_ms": 300,
    }
    return MonitorSettings(**(values | overrides))


@contextmanager
def running(
    redis_url: str, namespace: str, store: ContentStore, **overrides: Any
) -> Iterator[TestClient]:
    app = build_app(settings(redis_url, namespace, store, **overrides), store=store)
    with TestClient(app) as client:
        yield client


def logged(
    store: ContentStore,
    run: TrainingCompleted,
    n: int,
    phase: Phase,
    seed: int,
    *,
    dataset: str = "demo",
    version: int = 1,
    role: str = "primary",
) -> tuple[PredictionsLogged, list[str]]:
    """Predictions the trained model really makes on rows drawn from `phase`; their labels."""
    drawn = CreditScenario(seed).draw(n, phase)
    pipeline = load_artifact(store.get(run.artifact)).pipeline
    predicted = pipeline.predict(feature_matrix(run.dataset_schema, drawn.features))
    event = prediction_log(dataset, version, drawn.features, [str(p) for p in predicted], role=role)
    return event, drawn.labels


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 if none)."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def watch_of(client: TestClient, dataset: str = "demo", version: int = 1) -> dict[str, Any] | None:
    """The status of one watched version, None if it is not watched."""
    status = client.get("/v1/drift").json()
    found = status["datasets"].get(dataset, {"versions": []})["versions"]
    return next((w for w in found if w["model_version"] == version), None)
