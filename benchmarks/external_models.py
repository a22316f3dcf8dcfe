"""Models users bring: what an upload and a user entry point cost the trainer.

An in-process trainer on an embedded Redis, a dataset of N scenario rows (as data.ingested
versions of 5,000 rows):

1. `POST /v1/datasets/demo/models` of a fitted skops file (LogisticRegression, RandomForest of 100
   trees): file size and seconds to the 202 (read, checks, evaluation on the newest rows'
   holdout, profile, artifact stored, training.completed published);
2. one training run on the same rows with the default family (logistic, grid search) and with
   the example entry point (a decision tree, fitted once): seconds.

    python -m benchmarks.external_models [--rows 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from driftloop_contracts import TrainingSpec, streams
from driftloop_core import ContentStore
from driftloop_core.telemetry import configure_logging
from driftloop_ml import feature_matrix
from driftloop_sdk.embedded_redis import EmbeddedRedis
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.bootstrap import build_app
from driftloop_trainer.recipes import train_with
from driftloop_trainer.settings import TrainerSettings
from driftloop_trainer.training import TrainingConfig, build_pipeline
from fastapi.testclient import TestClient
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from benchmarks.keys import signer
from tests.support.data import ingested, labelled_rows
from tests.support.streams import Streams

TOKEN = "bench-admin-token-0123456789"
USER_MODELS = Path(__file__).parents[1] / "tests" / "support" / "user_models"


def model_file(estimator: Any) -> bytes:
    rows = labelled_rows(5000, seed=21)
    x = feature_matrix(SCHEMA, [r.features for r in rows])
    fitted = build_pipeline(SCHEMA, estimator).fit(x, np.array([r.label for r in rows]))
    return sio.dumps(fitted)  # a skops file: what uploads accept by default


def uploads(client: TestClient) -> None:
    for name, estimator in [
        ("LogisticRegression", LogisticRegression(max_iter=1000)),
        ("RandomForest 100 trees", RandomForestClassifier(100, max_depth=10, random_state=0)),
    ]:
        data = model_file(estimator)
        started = time.perf_counter()
        answer = client.post(
            "/v1/datasets/demo/models",
            content=data,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        seconds = time.perf_counter() - started
        assert answer.status_code == 202, answer.text
        rows = answer.json()["metrics"]["rows"]
        print(f"| upload {name} | {len(data) / 1e3:,.0f} kB | {seconds:.2f} s | {rows} |")


def trainings(n: int) -> None:
    sys.path.insert(0, str(USER_MODELS))
    rows = labelled_rows(n, seed=5)
    spec = TrainingSpec(entry_point="driftloop_example_models.credit:make_estimator")
    for name, chosen in [
        ("default family (logistic, grid of 3 x 3 folds)", None),
        ("entry point (decision tree, one fit)", spec),
    ]:
        started = time.perf_counter()
        train_with(chosen, SCHEMA, rows, TrainingConfig())
        print(f"| train: {name} | | {time.perf_counter() - started:.2f} s | {n} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    configure_logging("trainer", "WARNING")
    signer()  # the trainer signs what it admits
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        store = ContentStore(str(Path(tmp) / "store"))
        settings = TrainerSettings(
            redis_url=server.url,
            namespace="bench:",
            store_url=store.url,
            min_initial_rows=10_000_000,
            admin_token=TOKEN,
        )
        io_ = Streams(server.url, "bench:")
        with TestClient(build_app(settings)) as client:
            for part in range(0, args.rows, 5000):
                rows = labelled_rows(min(5000, args.rows - part), seed=100 + part)
                io_.publish(streams.DATA_INGESTED, ingested(store, rows))
            io_.wait_consumed(streams.DATA_INGESTED, "trainer", timeout=120)
            print(f"{args.rows} rows in the dataset\n")
            print("| what | file | seconds | rows (holdout / trained on) |")
            print("|---|---:|---:|---:|")
            uploads(client)
        io_.close()
    trainings(args.rows)


if __name__ == "__main__":
    main()
