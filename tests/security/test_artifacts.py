"""Attack: code execution from the content store.

Before: artifacts were pickles checked only against the sha256 in the same event, so whoever
could write to the store and XADD an event ran code as the predictor's and the registry's
user (the registry unpickled before its gate). Now nothing read from the store is unpickled:
an artifact is a skops file built from an explicit list of trusted types, and a pickle, even
one whose sha256 matches its reference, is refused by name. Each attack below plants a pickle
(or a skops file with a type nobody trusted) whose loading would create a marker file, and
checks the refusal and that the marker was never created.
"""

from __future__ import annotations

import os
import pickle
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from driftloop_contracts import BlobRef, streams
from driftloop_core import ContentStore
from driftloop_ml import ModelArtifact, PickleRefused, UntrustedTypes, dump_artifact
from driftloop_predictor.bootstrap import build_app as build_predictor
from driftloop_predictor.model import load_model
from driftloop_predictor.settings import PredictorSettings
from driftloop_registry.bootstrap import build_app as build_registry
from driftloop_registry.gate import GateConfig
from driftloop_registry.judging import Judge
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.scenario import SCHEMA
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.support.data import labelled_rows, promoted, trained
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.integration


class Detonator:
    """The attacker's payload: unpickling it runs a shell command that creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "the planted payload ran"


@pytest.fixture
def streams_io(redis_url: str, namespace: str) -> Iterator[Streams]:
    io = Streams(redis_url, namespace)
    yield io
    io.close()


def planted_pickle(store: ContentStore, marker: Path) -> BlobRef:
    """What the attacker writes: a pickle in the store, under a correctly-hashed reference
    (the old format 1 shape, so it looks like any artifact of before)."""
    payload = {"format": "driftloop.sklearn-pipeline/1", "pipeline": Detonator(marker)}
    return store.put(pickle.dumps(payload), kind="models/demo", suffix=".pkl")


def test_the_payload_is_live_as_the_attacker_wrote_it(tmp_path: Path) -> None:
    """The control: unpickling these bytes does run the command (what loading did before)."""
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Detonator(control)))
    assert control.exists()


def test_the_predictors_load_path_refuses_a_planted_pickle_and_runs_nothing(
    store: ContentStore, marker: Path
) -> None:
    good = trained(store, labelled_rows(300))
    event = promoted(good, 2, artifact=planted_pickle(store, marker))

    with pytest.raises(PickleRefused, match=r"a pickle .* is never loaded"):
        load_model(store, event)


def test_the_registrys_load_path_rejects_a_planted_candidate_and_runs_nothing(
    store: ContentStore, marker: Path
) -> None:
    good = trained(store, labelled_rows(300))
    candidate = good.model_copy(update={"artifact": planted_pickle(store, marker)})

    decision = Judge(store, GateConfig(min_accuracy=0.3))(candidate, None)

    assert not decision.promote
    assert decision.reason.startswith("candidate unusable: a pickle")


def test_the_registry_judges_a_good_candidate_on_floors_when_the_champion_is_a_planted_pickle(
    store: ContentStore, marker: Path
) -> None:
    good = trained(store, labelled_rows(300))
    champion = promoted(good, 1, artifact=planted_pickle(store, marker))

    decision = Judge(store, GateConfig(min_accuracy=0.3))(good, champion)

    assert decision.champion is None  # never loaded, so never compared


def test_a_running_predictor_refuses_a_promotion_of_a_planted_pickle_and_serves_on(
    redis_url: str, namespace: str, store: ContentStore, streams_io: Streams, marker: Path
) -> None:
    settings = PredictorSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, dataset="demo"
    )
    good = trained(store, labelled_rows(300))
    with TestClient(build_predictor(settings)) as predictor:
        streams_io.publish(streams.MODEL_PROMOTED, promoted(good, 1))
        eventually_sync(lambda: served(predictor) == 1, what="v1 served")
        refusals = load_failures(predictor)

        with structlog.testing.capture_logs() as logs:
            attack = promoted(good, 2, artifact=planted_pickle(store, marker))
            streams_io.publish(streams.MODEL_PROMOTED, attack)
            eventually_sync(lambda: load_failures(predictor) > refusals, what="v2 refused")

        assert served(predictor) == 1
    (line,) = [e for e in logs if e["event"].startswith("promoted model not loaded")]
    assert line["version"] == 2 and "is never loaded" in line["error"]


def test_a_running_registry_rejects_a_candidate_that_is_a_planted_pickle(
    redis_url: str,
    namespace: str,
    store: ContentStore,
    streams_io: Streams,
    marker: Path,
    tmp_path: Path,
) -> None:
    settings = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
        min_accuracy=0.3,
    )
    good = trained(store, labelled_rows(300))
    attack = good.model_copy(update={"artifact": planted_pickle(store, marker)})
    with TestClient(build_registry(settings)):
        streams_io.publish(streams.TRAINING_COMPLETED, attack)
        (rejected,) = streams_io.wait(streams.MODEL_REJECTED)

    assert rejected.reason.startswith("candidate unusable: a pickle")
    assert streams_io.read(streams.MODEL_PROMOTED) == []


def test_a_skops_artifact_calling_an_untrusted_function_is_refused_by_name(
    store: ContentStore,
) -> None:
    pipeline = Pipeline([("run", FunctionTransformer(func=os.system))])
    data = dump_artifact(ModelArtifact(pipeline, SCHEMA, ("no", "yes"), {}))
    event = promoted(trained(store, labelled_rows(300)), 2, artifact=store.put(data, kind="m"))

    with pytest.raises(UntrustedTypes, match=r"not trusted: \['posix\.system'\]"):
        load_model(store, event)


def test_a_skops_artifact_of_an_untrusted_class_is_refused_before_its_module_is_imported(
    store: ContentStore, tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"planted_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).touch()  # runs on import\n"
        "class Model:\n"
        "    def predict(self, x):\n"
        "        return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = __import__(name).Model()  # the attacker builds the file (and trips the marker)
    data = dump_artifact(ModelArtifact(model, SCHEMA, ("no", "yes"), {}))
    marker.unlink()
    del sys.modules[name]
    event = promoted(trained(store, labelled_rows(300)), 2, artifact=store.put(data, kind="m"))

    with pytest.raises(UntrustedTypes, match=rf"not trusted: \['{name}\.Model'\]"):
        load_model(store, event)
    assert name not in sys.modules


def served(client: TestClient) -> int | None:
    answer = client.get("/v1/model")
    return int(answer.json()["model_version"]) if answer.status_code == 200 else None


def load_failures(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("driftloop_predictor_model_load_failures_total "):
            return float(line.split()[1])
    return 0.0
