"""`driftloop models register`: upload a model trained elsewhere, print the gate's verdict."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_registry.bootstrap import build_app as build_registry
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.cli import app
from driftloop_trainer.bootstrap import build_app as build_trainer
from driftloop_trainer.settings import TrainerSettings
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from tests.support.data import ingested, labelled_rows
from tests.support.external_models import free_base_port, model_file, serving
from tests.support.streams import Streams

TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def base_port(redis_url: str, namespace: str, tmp_path: Path, streams_io: Streams) -> Iterator[int]:
    """Trainer and registry on TCP ports, as `driftloop up` runs them, with rows to judge on."""
    store = ContentStore(str(tmp_path / "store"))
    common = {"redis_url": redis_url, "namespace": namespace, "store_url": store.url}
    trainer = build_trainer(
        TrainerSettings(**common, min_initial_rows=100_000, admin_token=TOKEN)  # type: ignore[arg-type]
    )
    registry = build_registry(
        RegistrySettings(**common, db_path=tmp_path / "registry.sqlite3")  # type: ignore[arg-type]
    )
    base = free_base_port()
    with ExitStack() as stack:
        stack.enter_context(serving(trainer, base + 2))
        stack.enter_context(serving(registry, base + 3))
        streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(1000)))
        streams_io.wait_consumed(streams.DATA_INGESTED, "trainer")
        yield base


def register(base_port: int, file: Path, *extra: str) -> tuple[int, str]:
    args = ["models", "register", "--dataset", "demo", str(file), "--base-port", str(base_port)]
    result = CliRunner().invoke(app, [*args, "--wait", "30", *extra])
    return result.exit_code, result.output


def test_a_good_model_is_reported_promoted_and_a_worse_one_rejected_with_the_reason(
    base_port: int, tmp_path: Path
) -> None:
    good = tmp_path / "good.skops"
    good.write_bytes(model_file(LogisticRegression()))
    code, output = register(base_port, good, "--token", TOKEN, "--uploaded-by", "alice")
    assert code == 0, output
    assert "submitted: run" in output
    assert "promoted: version 1 serves" in output
    worse = tmp_path / "worse.skops"
    worse.write_bytes(model_file(DummyClassifier()))
    code, output = register(base_port, worse, "--token", TOKEN)
    assert code == 2, output
    assert "rejected: version 2 kept out by the gate" in output


def test_a_wrong_token_or_file_is_reported_with_what_to_fix(base_port: int, tmp_path: Path) -> None:
    good = tmp_path / "good.skops"
    good.write_bytes(model_file(LogisticRegression()))
    code, output = register(base_port, good, "--token", "wrong-token-0123456789")
    assert code == 1 and "send the admin token" in output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"junk")
    code, output = register(base_port, junk, "--token", TOKEN)
    assert code == 1 and "not a skops file" in output and "skops.io.dump" in output
