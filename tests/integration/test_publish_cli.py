"""`driftloop publish FILE`: rows go over the stream to a running ingest (uvicorn on a free
port, a real Redis); the command then reports what ingest accepted and why it rejected the
rest, and says before publishing what it can know is wrong."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from driftloop_contracts import streams
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.cli import app
from driftloop_sdk.embedded_redis import free_port
from typer.testing import CliRunner

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

PLANTS = {
    "name": "plants",
    "features": [
        {"name": "height", "kind": "numeric"},
        {"name": "soil", "kind": "categorical", "categories": ["clay", "sand"]},
    ],
    "target": {"name": "species", "classes": ["fern", "moss"]},
}


@pytest.fixture
def env(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Ingest on a free port; what a shell pointing the CLI at it would set."""
    port = free_port()
    settings = IngestSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=str(tmp_path / "store"),
        schema_dir=tmp_path / "schemas",
    )
    config = uvicorn.Config(build_app(settings), port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually_sync(lambda: server.started, what="ingest to listen")
    yield {
        "DRIFTLOOP_INGEST_URL": f"http://127.0.0.1:{port}",
        "REDIS_URL": redis_url,
        "DRIFTLOOP_NAMESPACE": namespace,
        "DRIFTLOOP_STATE_DIR": str(tmp_path / "no-state"),  # no logins: the default user
    }
    server.should_exit = True
    thread.join(30)


def plants_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["height", "soil", "species"])
        writer.writerows(rows)
    return path


@pytest.fixture
def registered(env: dict[str, str], tmp_path: Path) -> None:
    (schema := tmp_path / "plants.json").write_text(json.dumps(PLANTS))
    added = CliRunner().invoke(app, ["datasets", "add", str(schema)], env=env)
    assert added.exit_code == 0, added.output


@pytest.mark.usefixtures("registered")
def test_publish_reports_accepted_and_rejected_rows_with_the_first_reasons(
    env: dict[str, str], tmp_path: Path
) -> None:
    good = [("1.5", "clay", "fern")] * 698
    rows = [*good[:3], ("2.0", "clay", "tree"), *good[3:], ("tall", "sand", "moss")]
    file = plants_csv(tmp_path / "plants.csv", rows)  # 700 rows: two events of 500 and 200
    result = CliRunner().invoke(app, ["publish", str(file), "--wait", "30"], env=env)
    assert result.exit_code == 2, result.output  # some rows rejected
    assert "published 700 rows of plants in 2 events" in result.stdout
    assert "accepted 698 rows, rejected 2" in result.stdout
    assert "row 4: " in result.stdout and "tree" in result.stdout  # the row in the file
    assert "row 700: " in result.stdout and "tall" in result.stdout


@pytest.mark.usefixtures("registered")
def test_an_unknown_dataset_or_a_missing_label_column_is_said_before_publishing(
    env: dict[str, str], tmp_path: Path, streams_io: Streams
) -> None:
    file = plants_csv(tmp_path / "plants.csv", [("1.5", "clay", "fern")])
    runner = CliRunner()
    unknown = runner.invoke(app, ["publish", str(file), "--dataset", "nope"], env=env)
    assert unknown.exit_code == 1, unknown.output
    assert "unknown dataset 'nope'" in unknown.stderr and "datasets add" in unknown.stderr
    wrong = runner.invoke(app, ["publish", str(file), "--label-column", "label"], env=env)
    assert wrong.exit_code == 1, wrong.output
    assert "has no column 'label'" in wrong.stderr and "--label-column" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.output
    assert streams_io.read(streams.INGEST_RECORDS) == []  # nothing was published
