"""The newcomer's path, as the README shows it first: from a CSV to a served model in three
commands (`datasets infer`, `datasets add`, `publish`), run through the CLI against a running
stack whose address comes from the environment, as a shell would give it."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from driftloop_sdk.cli import app
from driftloop_sdk.client import DriftloopClient
from driftloop_sdk.runner import Stack
from typer.testing import CliRunner

from tests.support.wait import eventually_sync

pytestmark = pytest.mark.e2e

ROWS = 600  # above the trainer's default of 500 rows for a first model: nothing is tuned


def churn_csv(path: Path, rows: int = ROWS, seed: int = 5) -> Path:
    """A customer table a newcomer might have: the label is the last column."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    monthly = rng.normal(60, 20, rows).round(2)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    risk = -0.08 * tenure + 0.04 * monthly + (plan == "basic") * 1.0 + rng.normal(0, 0.5, rows)
    churned = np.where(risk > np.median(risk), "yes", "no")
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["tenure_months", "monthly_fee", "plan", "churned"])
        writer.writerows(zip(tenure, monthly, plan, churned, strict=True))
    return path


@pytest.fixture
def stack(namespace: str, tmp_path: Path) -> Iterator[Stack]:
    with Stack(
        tmp_path / "state",
        redis_persistent=False,
        namespace=namespace,
        env={"LOG_LEVEL": "WARNING", "PREDICTOR_LOG_FLUSH_MS": "50"},
        sink=None,
    ) as running:
        yield running


def environment(stack: Stack) -> dict[str, str]:
    """What a shell beside this stack would set (its ports are free ones, not base+1..)."""
    urls = stack.endpoints
    return {
        "DRIFTLOOP_INGEST_URL": urls.ingest,
        "DRIFTLOOP_TRAINER_URL": urls.trainer,
        "DRIFTLOOP_REGISTRY_URL": urls.registry,
        "DRIFTLOOP_PREDICTOR_URL": urls.predictor,
        "DRIFTLOOP_MONITOR_URL": urls.monitor,
        "REDIS_URL": stack.redis_url,
        "DRIFTLOOP_NAMESPACE": stack.namespace,
        "DRIFTLOOP_STATE_DIR": str(stack.state_dir),  # the Redis logins `up` made
        "DRIFTLOOP_ADMIN_TOKEN": stack.admin_token,
    }


def test_from_a_csv_to_a_served_model_in_three_commands(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no profile file of the repository's own `driftloop up`
    churn = churn_csv(tmp_path / "churn.csv")
    runner = CliRunner()
    env = environment(stack)

    def driftloop(*args: str) -> Any:
        return runner.invoke(app, list(args), env=env)

    # 1. driftloop datasets infer churn.csv > schema.json
    inferred = driftloop("datasets", "infer", str(churn))
    assert inferred.exit_code == 0, inferred.stderr
    (tmp_path / "schema.json").write_text(inferred.stdout)
    # 2. driftloop datasets add schema.json
    added = driftloop("datasets", "add", "schema.json")
    assert added.exit_code == 0, added.stderr
    assert "registered churn schema version 1" in added.stdout
    # 3. driftloop publish churn.csv --dataset churn
    published = driftloop("publish", "churn.csv", "--dataset", "churn")
    assert published.exit_code == 0, published.output
    assert f"accepted {ROWS} rows, rejected 0" in published.stdout

    client = DriftloopClient(stack.endpoints)
    row = {"tenure_months": 3, "monthly_fee": 90.0, "plan": "basic"}

    def served() -> dict[str, Any] | None:
        stack.check_alive()
        try:
            return client.predict(row, dataset="churn")
        except Exception:  # 404/503 until the first model is promoted and loaded
            return None

    answer = eventually_sync(served, timeout=90, interval=0.2, what="a model to serve churn")
    assert answer["model_version"] == 1 and answer["prediction"] in ("yes", "no")

    status = driftloop("status")
    assert "churn" in status.stdout and "v1 (initial)" in status.stdout, status.output
    # Beyond the three: a run asked for by hand (its outcome: tests/integration/test_train_requests)
    trained = driftloop("train", "churn")
    assert trained.exit_code == 0, trained.output
    assert "training run" in trained.stdout and "started" in trained.stdout
    drift = driftloop("drift", "churn")
    assert drift.exit_code == 0 and "Traceback" not in drift.output, drift.output
