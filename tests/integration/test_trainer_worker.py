"""The trainer fits in a worker process: killed mid-run, the run fails saying why, the trainer
stays up and the next run trains in a new worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import DatasetRegistered, TrainingRequested, TrainingSpec, streams
from driftloop_core import ContentStore
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.bootstrap import build_app
from driftloop_trainer.settings import TrainerSettings
from driftloop_trainer.worker import WorkerProcess
from fastapi.testclient import TestClient

from tests.support.data import ingested, labelled_rows
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def trainer(
    redis_url: str, namespace: str, store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.syspath_prepend(str(USER_MODELS))
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=300,
        model_family="logistic",
    )
    with TestClient(build_app(settings)) as client:
        yield client


def registered(spec: TrainingSpec) -> DatasetRegistered:
    return DatasetRegistered(
        producer="test", dataset=SCHEMA.name, dataset_schema=SCHEMA, training=spec
    )


def test_a_worker_killed_mid_run_fails_that_run_with_the_reason_and_the_next_run_trains(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    from driftloop_example_models.slow import marker  # on the path the fixture added

    worker: WorkerProcess = trainer.app.state.worker  # type: ignore[attr-defined]
    pid = trainer.portal.call(worker.pid)  # type: ignore[union-attr]
    endless = TrainingSpec(entry_point="driftloop_example_models.slow:make_estimator")
    streams_io.publish(streams.DATASET_REGISTERED, registered(endless))
    eventually_sync(
        lambda: (
            trainer.get(f"/v1/datasets/{SCHEMA.name}/training").json()["spec"]
            == endless.model_dump(exclude_none=True)
        ),
        what="the trainer to learn the endless spec",
    )
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
    eventually_sync(marker(pid).exists, timeout=60, what="the worker to be fitting")
    os.kill(pid, signal.SIGKILL)
    marker(pid).unlink()

    (failed,) = streams_io.wait(streams.TRAINING_FAILED, timeout=30)
    assert "the training worker process died during the fit" in failed.reason
    assert trainer.get("/healthz").status_code == 200

    streams_io.publish(streams.DATASET_REGISTERED, registered(TrainingSpec(family="logistic")))
    eventually_sync(
        lambda: (
            trainer.get(f"/v1/datasets/{SCHEMA.name}/training").json()["spec"]
            == {"family": "logistic"}
        ),
        what="the trainer to learn the logistic spec",
    )
    streams_io.publish(
        streams.TRAINING_REQUESTED, TrainingRequested(producer="test", dataset=SCHEMA.name)
    )
    (completed,) = streams_io.wait(streams.TRAINING_COMPLETED, timeout=60)
    assert completed.trigger == "requested"
    assert trainer.portal.call(worker.pid) != pid  # type: ignore[union-attr]
    assert streams_io.dead_letters(streams.DATA_INGESTED) == []


def test_a_worker_whose_trainer_was_killed_outright_exits_with_its_forkserver(
    tmp_path: Path,
) -> None:
    """SIGKILL closes nothing the worker and its forkserver wait on; they had stayed for good
    (two orphans holding ~400 MB per trainer killed in the fault tests)."""
    script = tmp_path / "trainer.py"
    script.write_text(
        "import asyncio\n"
        "from driftloop_trainer.worker import WorkerProcess\n"
        "async def main():\n"
        "    w = WorkerProcess()\n"
        "    print(await w.pid(), flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    trainer = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert trainer.stdout is not None
    worker = int(trainer.stdout.readline())
    server = int(Path(f"/proc/{worker}/stat").read_text().split()[3])  # its parent
    trainer.kill()
    trainer.wait()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # exited, not reaped

    eventually_sync(lambda: gone(worker) and gone(server), timeout=20, what="both gone")
