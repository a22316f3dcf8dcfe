"""`driftloop datasets add/list/show` against a running ingest (uvicorn on a free port, a real
Redis): what a person types, what they read back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.cli import app
from driftloop_sdk.embedded_redis import free_port
from typer.testing import CliRunner

from tests.support.wait import eventually_sync

runner = CliRunner()
HOUSES = {
    "name": "houses",
    "features": [{"name": "rooms", "kind": "numeric"}],
    "target": {"name": "price", "kind": "regression"},
}


@pytest.fixture
def base_port(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[int]:
    """Ingest listening on base + 1, as `--base-port` expects."""
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
    yield port - 1
    server.should_exit = True
    thread.join(30)


def cli(*args: str, base_port: int) -> tuple[int, str, str]:
    result = runner.invoke(app, ["datasets", *args, "--base-port", str(base_port)])
    return result.exit_code, result.stdout, result.stderr


def test_add_then_list_and_show_and_add_again(base_port: int, tmp_path: Path) -> None:
    (schema := tmp_path / "houses.json").write_text(json.dumps(HOUSES))
    (training := tmp_path / "training.json").write_text('{"family": "random_forest"}')
    code, out, err = cli("add", str(schema), "--training", str(training), base_port=base_port)
    assert code == 0, err
    assert "registered houses schema version 1" in out  # (the server logs here too)
    code, out, _ = cli("add", str(schema), base_port=base_port)
    assert code == 0 and "houses is registered so already (version 1)" in out
    code, out, _ = cli("list", base_port=base_port)
    assert code == 0 and "houses" in out and "random_forest" in out and "regression" in out
    code, out, _ = cli("show", "houses", base_port=base_port)
    shown = json.loads(out)
    assert shown["version"] == 1 and shown["training"]["family"] == "random_forest"


def test_a_refused_schema_is_one_line_saying_why(base_port: int, tmp_path: Path) -> None:
    (schema := tmp_path / "houses.json").write_text(json.dumps(HOUSES))
    assert cli("add", str(schema), base_port=base_port)[0] == 0
    changed = {**HOUSES, "features": [{"name": "rooms", "kind": "categorical"}]}
    schema.write_text(json.dumps(changed))
    code, _, err = cli("add", str(schema), base_port=base_port)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "feature 'rooms' cannot change" in err
    schema.write_text(json.dumps({**HOUSES, "name": "my.houses"}))
    code, _, err = cli("add", str(schema), base_port=base_port)
    assert code == 1 and "body.schema.name" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("show", "nope", base_port=base_port)
    assert code == 1 and "unknown dataset 'nope'" in err
