"""Redis write access is not admin access: attacks on the signed decisions of a running stack
(the registry and a predictor on a real Redis, with the session's keys).

Each attack is refused with a metric and a warning that says why, and changes nothing: the
predictor serves what it served, the registry registers nothing and loads nothing.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from driftloop_bus import Keys, serving
from driftloop_contracts import ModelPromoted, streams
from driftloop_contracts.codec import encode
from driftloop_core import ContentStore
from driftloop_core.signing import Signer, generate
from driftloop_predictor.bootstrap import build_app as predictor_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_registry.bootstrap import build_app as registry_app
from driftloop_registry.settings import RegistrySettings
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, trained
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

TOKEN = "security-admin-token-6Wq2Lp9Zt"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
#: Someone else's key: what an attacker who can write to Redis may sign with.
ATTACKER = Signer.from_base64(generate()[0])


@dataclass
class Stack:
    registry: TestClient
    predictor: TestClient
    store: ContentStore
    io: Streams
    redis_url: str
    namespace: str

    def served(self, dataset: str = "demo") -> int | None:
        answer = self.predictor.get(f"/v1/models/{dataset}")
        return int(answer.json()["model_version"]) if answer.status_code == 200 else None

    def refused(self, kind: str, reason: str) -> float:
        """The predictor's (and this process's) count of refused decisions."""
        wanted = f'driftloop_refused_decisions_total{{kind="{kind}",reason="{reason}"}} '
        for line in self.predictor.get("/metrics").text.splitlines():
            if line.startswith(wanted):
                return float(line.split()[-1])
        return 0.0

    def wait_refused(self, kind: str, reason: str, above: float) -> None:
        eventually_sync(
            lambda: self.refused(kind, reason) > above, what=f"a {kind} refused as {reason}"
        )

    def xadd(self, stream: streams.Stream[Any], event: Any) -> None:
        """What anyone with write access to Redis can do: append an entry, nothing else."""
        self.io.redis.xadd(stream.key(self.namespace), encode(event))  # type: ignore[arg-type]


@pytest.fixture
def stack(redis_url: str, namespace: str, tmp_path: Path, streams_io: Streams) -> Iterator[Stack]:
    store = ContentStore(str(tmp_path / "store"))
    common: dict[str, Any] = {
        "redis_url": redis_url,
        "namespace": namespace,
        "store_url": store.url,
    }
    registry = registry_app(
        RegistrySettings(
            **common, db_path=tmp_path / "registry.sqlite3", admin_token=TOKEN, min_accuracy=0.3
        )
    )
    predictor = predictor_app(PredictorSettings(**common, log_flush_ms=20))
    with TestClient(registry) as r, TestClient(predictor) as p:
        yield Stack(r, p, store, streams_io, redis_url, namespace)


def two_versions(stack: Stack) -> list[ModelPromoted]:
    """v1 promoted by the gate, then v2 by hand: the predictor serves v2."""
    stack.io.publish(streams.TRAINING_COMPLETED, trained(stack.store, labelled_rows(400)))
    stack.io.wait(streams.MODEL_PROMOTED)
    second = trained(stack.store, labelled_rows(400, seed=5))
    stack.io.publish(streams.TRAINING_COMPLETED, second)
    stack.io.wait(streams.MODEL_REGISTERED, 2)
    stack.io.wait_consumed(streams.TRAINING_COMPLETED, "registry")
    if stack.io.read(streams.MODEL_PROMOTED)[-1].model_version != 2:
        answer = stack.registry.post("/v1/models/demo/2/promote", headers=ADMIN)
        assert answer.status_code == 200, answer.text
    eventually_sync(lambda: stack.served() == 2, what="v2 served")
    return stack.io.read(streams.MODEL_PROMOTED)


def test_a_promotion_signed_with_another_key_is_refused(stack: Stack) -> None:
    v1, *_ = two_versions(stack)
    before = stack.refused("promotion", "bad_signature")
    forged = ATTACKER.sign(v1.model_copy(update={"sequence": 10_000, "event_id": uuid.uuid4()}))

    stack.xadd(streams.MODEL_PROMOTED, forged)

    stack.wait_refused("promotion", "bad_signature", before)
    assert stack.served() == 2


def test_an_unsigned_promotion_is_refused(stack: Stack) -> None:
    v1, *_ = two_versions(stack)
    before = stack.refused("promotion", "unsigned")
    fresh = {"signature": None, "sequence": 10_000, "event_id": uuid.uuid4()}
    unsigned = v1.model_copy(update=fresh)

    stack.xadd(streams.MODEL_PROMOTED, unsigned)

    stack.wait_refused("promotion", "unsigned", before)
    assert stack.served() == 2


def test_an_earlier_real_promotion_published_again_is_a_replay(stack: Stack) -> None:
    v1, *_ = two_versions(stack)
    before = stack.refused("promotion", "replay")

    stack.xadd(streams.MODEL_PROMOTED, v1)  # the registry's own signature, byte for byte

    stack.wait_refused("promotion", "replay", before)
    assert stack.served() == 2
    champion = stack.registry.get("/v1/models/demo/champion").json()
    assert champion["version"] == 2  # the registry's history did not take it back either


def test_a_promotion_naming_another_datasets_artifact_is_refused(stack: Stack) -> None:
    v1, *_ = two_versions(stack)
    before = stack.refused("promotion", "bad_signature")
    # The registry's real promotion of demo, pointed at a dataset it never promoted.
    moved = v1.model_copy(update={"dataset": "loans", "event_id": uuid.uuid4()})

    stack.xadd(streams.MODEL_PROMOTED, moved)

    stack.wait_refused("promotion", "bad_signature", before)
    assert stack.predictor.get("/v1/models/loans").status_code == 404
    assert stack.served() == 2


def test_a_serving_state_entry_moved_to_another_dataset_is_refused_at_start(
    stack: Stack,
) -> None:
    v1, *_ = two_versions(stack)
    # An attacker files demo's real, signed promotion under "loans" in the serving state.
    champions = serving.champions_key(Keys(stack.namespace))
    stack.io.redis.hset(champions, "loans", v1.model_dump_json())
    before = stack.refused("promotion", "wrong_dataset")
    settings = PredictorSettings(
        redis_url=stack.redis_url, namespace=stack.namespace, store_url=stack.store.url
    )

    with TestClient(predictor_app(settings)) as restarted:
        eventually_sync(
            lambda: restarted.get("/v1/models/demo").status_code == 200, what="demo served"
        )
        assert restarted.get("/v1/models/demo").json()["model_version"] == 2
        assert restarted.get("/v1/models/loans").status_code == 404
    assert stack.refused("promotion", "wrong_dataset") == before + 1


class Payload:
    """A pickle that creates a file when loaded: stands for any command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("signature", ["none", "attacker"])
def test_a_forged_training_run_is_dead_lettered_and_its_pickle_never_loaded(
    stack: Stack, tmp_path: Path, signature: str
) -> None:
    real = trained(stack.store, labelled_rows(400))
    marker = tmp_path / "pwned"
    artifact = stack.store.put(pickle.dumps(Payload(marker)), kind="models/demo", suffix=".pkl")
    forged = real.model_copy(update={"artifact": artifact, "signature": None})
    if signature == "attacker":
        forged = ATTACKER.sign(forged)
    reason = "unsigned" if signature == "none" else "bad_signature"
    before = stack.refused("training", reason)

    stack.xadd(streams.TRAINING_COMPLETED, forged)

    eventually_sync(
        lambda: stack.io.dead_letters(streams.TRAINING_COMPLETED), what="the dead letter"
    )
    (letter,) = stack.io.dead_letters(streams.TRAINING_COMPLETED)
    assert b"training.completed refused" in letter[b"error"]
    assert b"its artifact was not loaded" in letter[b"error"]
    assert not marker.exists()  # nothing ran
    assert stack.io.read(streams.MODEL_REGISTERED) == []
    assert stack.registry.get("/v1/models").json() == []
    assert stack.refused("training", reason) == before + 1
