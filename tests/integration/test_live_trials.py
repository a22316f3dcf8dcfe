"""Live challenger trials in the running registry, on a real Redis: a candidate that passes
the offline gate shadows the champion, and the joined outcomes (as ingest publishes them)
promote it, reject it, or run out its budget."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftloop_contracts import (
    PredictionsLabelled,
    TrainingCompleted,
    TrialDecided,
    streams,
    utcnow,
)
from driftloop_core import ContentStore
from driftloop_registry.bootstrap import build_app
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk import trials_cli
from fastapi.testclient import TestClient
from rich.console import Console

from tests.support.data import labelled_rows, trained
from tests.support.signing import verifier
from tests.support.streams import Streams
from tests.support.wait import eventually_sync


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ContentStore, TrainingCompleted, TrainingCompleted]:
    """A champion fitted on the old concept and a challenger fitted on the new one (its
    holdout is of the new concept, so it passes the offline gate), trained once."""
    store = ContentStore(str(tmp_path_factory.mktemp("store")))
    champion = trained(store, labelled_rows(400))
    challenger = trained(store, labelled_rows(400, "after", seed=5), trigger="drift")
    return store, champion, challenger


def registry(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path, **settings: Any
) -> TestClient:
    config = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
        min_accuracy=0.3,
        live_trial="shadow",
        **settings,
    )
    return TestClient(build_app(config))


@pytest.fixture
def trial(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    streams_io: Streams,
    runs: tuple[ContentStore, TrainingCompleted, TrainingCompleted],
    request: pytest.FixtureRequest,
) -> Iterator[TestClient]:
    """v1 serves; v2 passed the gate and shadows it in a running trial."""
    store, champion, challenger = runs
    settings = getattr(request, "param", {})
    with registry(redis_url, namespace, store, tmp_path, **settings) as client:
        streams_io.publish(streams.TRAINING_COMPLETED, champion)
        streams_io.wait(streams.MODEL_PROMOTED)
        streams_io.publish(streams.TRAINING_COMPLETED, challenger)
        (started,) = streams_io.wait(streams.TRIAL_STARTED)
        assert (started.model_version, started.champion_version) == (2, 1)
        yield client


def outcomes(n: int, champion_right: float, challenger_right: float, seed: int) -> list[Any]:
    """`n` labelled predictions of both models, as ingest publishes the joined pairs: one
    event for the champion's answers (primary v1), one for the shadow's (v2)."""
    rng = random.Random(seed)
    ids = [uuid.uuid4() for _ in range(n)]
    now = int(utcnow().timestamp() * 1000) + 1000
    labels = ["yes"] * n

    def side(role: str, version: int, right: float) -> PredictionsLabelled:
        guesses = ["yes" if rng.random() < right else "no" for _ in range(n)]
        return PredictionsLabelled(
            producer="ingest",
            dataset="demo",
            model_version=version,
            role=role,  # type: ignore[arg-type]
            prediction_ids=tuple(ids),
            predictions=tuple(guesses),
            labels=tuple(labels),
            predicted_at_ms=(now,) * n,
            labelled_at_ms=(now,) * n,
        )

    return [side("primary", 1, champion_right), side("shadow", 2, challenger_right)]


def decided(streams_io: Streams) -> TrialDecided:
    (event,) = streams_io.wait(streams.TRIAL_DECIDED)
    assert isinstance(event, TrialDecided)
    return event


def test_a_better_challenger_is_promoted_by_the_live_evidence(
    trial: TestClient, streams_io: Streams
) -> None:
    for batch in range(10):
        streams_io.publish(streams.PREDICTION_LABELLED, *outcomes(50, 0.6, 0.9, seed=batch))
        if streams_io.read(streams.TRIAL_DECIDED):
            break
    event = decided(streams_io)
    assert (event.decision, event.stopped_by) == ("promoted", "evidence")
    assert event.evidence.wins > event.evidence.losses
    assert event.evidence.statistic >= event.evidence.upper
    promoted = streams_io.wait(streams.MODEL_PROMOTED, 2)[-1]
    assert (promoted.model_version, promoted.reason) == (2, "trial")
    assert promoted.causation_id == event.event_id and promoted.signature is not None
    (started,) = streams_io.read(streams.TRIAL_STARTED)
    assert promoted.correlation_id == started.correlation_id
    # Both trial events are the registry's own word: signed with its key.
    assert verifier().refusal(started) is None and verifier().refusal(event) is None
    ended = streams_io.wait(streams.MODEL_ROLLOUT, 2)[-1]
    assert (ended.stage, ended.outcome) == ("ended", "promoted")

    listed = trial.get("/v1/models/demo/trials").json()
    assert [t["status"] for t in listed] == ["promoted"]
    shown = Console(record=True, width=200)
    shown.print(trials_cli.table("demo", listed))  # what `driftloop models trials demo` prints
    text = shown.export_text()
    assert "promoted (evidence)" in text and "v2 vs v1" in text
    one = trial.get(f"/v1/models/demo/trials/{listed[0]['trial_id']}").json()
    assert one["evidence"]["wins"] == event.evidence.wins and one["stopped_by"] == "evidence"
    eventually_sync(
        lambda: trial.get("/v1/models/demo/champion").json().get("version") == 2,
        what="v2 crowned on the read side",
    )


def test_a_worse_challenger_is_rejected_and_the_shadow_ended(
    trial: TestClient, streams_io: Streams
) -> None:
    for batch in range(10):
        streams_io.publish(streams.PREDICTION_LABELLED, *outcomes(50, 0.9, 0.6, seed=batch))
        if streams_io.read(streams.TRIAL_DECIDED):
            break
    event = decided(streams_io)
    assert (event.decision, event.stopped_by) == ("rejected", "evidence")
    (rejected,) = streams_io.wait(streams.MODEL_REJECTED)
    assert rejected.model_version == 2 and rejected.reason.startswith("live trial: not better")
    assert rejected.trigger == "drift"
    ended = streams_io.wait(streams.MODEL_ROLLOUT, 2)[-1]
    assert (ended.stage, ended.outcome) == ("ended", "aborted")
    assert [e.model_version for e in streams_io.read(streams.MODEL_PROMOTED)] == [1]
    eventually_sync(
        lambda: (
            {m["version"]: m["status"] for m in trial.get("/v1/models").json()}.get(2) == "rejected"
        ),
        what="v2 shown rejected",
    )


@pytest.mark.parametrize("trial", [{"trial_max_pairs": 60}], indirect=True)
def test_an_undecided_trial_ends_when_its_row_budget_is_spent(
    trial: TestClient, streams_io: Streams
) -> None:
    # Equally good models that never disagree: no evidence either way.
    streams_io.publish(streams.PREDICTION_LABELLED, *outcomes(40, 1.0, 1.0, seed=1))
    streams_io.publish(streams.PREDICTION_LABELLED, *outcomes(40, 1.0, 1.0, seed=2))
    event = decided(streams_io)
    assert (event.decision, event.stopped_by) == ("rejected", "row_budget")
    assert event.evidence.pairs == 80 and event.evidence.ties == 80


@pytest.mark.parametrize("trial", [{"trial_max_s": 0.5, "trial_check_s": 0.1}], indirect=True)
def test_a_trial_no_label_reaches_ends_by_its_time_budget(
    trial: TestClient, streams_io: Streams
) -> None:
    event = decided(streams_io)
    assert (event.decision, event.stopped_by) == ("rejected", "time_budget")
    assert event.evidence.pairs == 0
    assert trial.get("/v1/models/demo/trials").json()[0]["status"] == "rejected"
