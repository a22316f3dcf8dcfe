"""A small world for the drift monitor's unit tests: one profile, promotions, prediction logs
and labels built in memory, and hand-written fakes of the monitor's ports."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from driftloop_bus import AfterCommit, Keys, Output, Publish, RedisWrite
from driftloop_contracts import (
    BlobRef,
    CategoricalProfile,
    Metrics,
    ModelPromoted,
    NumericProfile,
    PredictionsLabelled,
    PredictionsLogged,
    ReferenceProfile,
    Role,
)
from driftloop_drift_monitor.config import Limits, SameForEvery, WatchConfig
from driftloop_drift_monitor.performance import PerformanceConfig
from driftloop_drift_monitor.policy import Serving, Unservable
from driftloop_drift_monitor.reader import MonitorKeys, rearm_of
from driftloop_drift_monitor.watch import Watch, WatchKey
from driftloop_drift_monitor.windows import DriftConfig
from driftloop_sdk.scenario import SCHEMA

WINDOW = 100
T0_MS = 1_704_067_200_000  # 2024-01-01
CONFIGS = SameForEvery(
    WatchConfig(
        windows=DriftConfig(window_size=WINDOW),
        performance=PerformanceConfig(window=100, min_labels=40),
        public_url="http://monitor.test",
    ),
    Limits(versions_per_dataset=2, max_watches=4),
)


def profile() -> ReferenceProfile:
    sample = np.random.default_rng(0).normal(size=1000)
    return ReferenceProfile(
        dataset="credit",
        rows=1000,
        features={
            "x": NumericProfile(
                sample=tuple(sample.tolist()),
                mean=float(sample.mean()),
                std=float(sample.std()),
                quantiles={},
                missing_rate=0.0,
            ),
            "segment": CategoricalProfile(
                frequencies={"a": 0.5, "b": 0.5}, rows=1000, missing_rate=0.0
            ),
        },
        predictions={"no": 0.5, "yes": 0.5},
        prediction_rows=1000,
        holdout_accuracy=0.9,
    )


PROFILE = profile()
PROFILE_BYTES = PROFILE.model_dump_json().encode()
PROFILE_REF = BlobRef(
    key="profiles/p.json", sha256=hashlib.sha256(PROFILE_BYTES).hexdigest(), size=len(PROFILE_BYTES)
)


def promotion(version: int = 1, dataset: str = "credit", accuracy: float = 0.9) -> ModelPromoted:
    return ModelPromoted(
        producer="test",
        dataset=dataset,
        model_version=version,
        previous_version=None,
        reason="gate",
        artifact=BlobRef(key="models/m.pkl", sha256="0" * 64, size=1),
        profile=PROFILE_REF,
        metrics=Metrics(accuracy=accuracy, f1_macro=accuracy, rows=500),
        dataset_schema=SCHEMA,
    )


def logs(
    n: int,
    *,
    shift: float = 0.0,
    version: int = 1,
    dataset: str = "credit",
    role: Role = "primary",
    seed: int = 1,
    first_ms: int = T0_MS,
) -> PredictionsLogged:
    """n rows drawn like the profile, `x` moved by `shift` standard deviations."""
    rng = np.random.default_rng(seed)
    return PredictionsLogged(
        producer="test",
        dataset=dataset,
        model_version=version,
        role=role,
        prediction_ids=tuple(uuid.uuid4() for _ in range(n)),
        features={
            "x": tuple((rng.normal(size=n) + shift).tolist()),
            "segment": tuple(rng.choice(["a", "b"], n).tolist()),
        },
        predictions=tuple(rng.choice(["no", "yes"], n).tolist()),
        predicted_at_ms=tuple(range(first_ms, first_ms + n * 1000, 1000)),
    )


def labels_of(event: PredictionsLogged, right: float, seed: int = 2) -> PredictionsLabelled:
    """The labels of `event`, a share `right` of them equal to the prediction."""
    rng = np.random.default_rng(seed)
    flip = {"no": "yes", "yes": "no"}
    labels = [str(p) if rng.random() < right else flip[str(p)] for p in event.predictions]
    return PredictionsLabelled(
        producer="test",
        dataset=event.dataset,
        model_version=event.model_version,
        role=event.role,
        prediction_ids=event.prediction_ids,
        predictions=event.predictions,
        labels=tuple(labels),
        predicted_at_ms=event.predicted_at_ms,
        labelled_at_ms=event.predicted_at_ms,
    )


def key(version: int = 1, dataset: str = "credit") -> WatchKey:
    return WatchKey(dataset, version)


def serving(*promotions: ModelPromoted, fired: Iterable[str] = ()) -> dict[WatchKey, Serving]:
    return {
        key(p.model_version, p.dataset): Serving(p, PROFILE, frozenset(fired))  # type: ignore[arg-type]
        for p in promotions
    }


# ------------------------------------------------------------------------- fakes


class FakePipe:
    """What a RedisWrite queues on: SET and DEL, into a dict."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data

    def set(self, name: str, value: str) -> None:
        self.data[name] = value

    def delete(self, name: str) -> None:
        self.data.pop(name, None)


class FakeRedis:
    """The Redis the monitor's commits write to, as a dict."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def commit(self, outputs: Sequence[Output]) -> list[Publish]:
        """What the bus does with a delivery's outputs once its transaction succeeded."""
        pipe = FakePipe(self.data)
        for item in outputs:
            if isinstance(item, RedisWrite):
                item.apply(pipe)  # type: ignore[arg-type]
        for item in outputs:
            if isinstance(item, AfterCommit):
                item.apply()
        return [o for o in outputs if isinstance(o, Publish)]


class FakeReader:
    """The serving state and the monitor's keys, from dicts."""

    def __init__(self, redis: FakeRedis, *promotions: ModelPromoted) -> None:
        self.redis = redis
        self.own = MonitorKeys(Keys("unit:"))
        self.promotions = {key(p.model_version, p.dataset): p for p in promotions}
        self.unservable: dict[WatchKey, Unservable] = {}

    async def serving(
        self, touched: Iterable[WatchKey], held: Mapping[WatchKey, Watch]
    ) -> dict[WatchKey, Serving | Unservable]:
        out: dict[WatchKey, Serving | Unservable] = {}
        for k in touched:
            if k in self.unservable:
                out[k] = self.unservable[k]
            elif (p := self.promotions.get(k)) is None:
                out[k] = Unservable("no_promotion", "absent")
            else:
                fired = {
                    kind
                    for kind in ("data", "prediction", "performance")
                    if self.own.fired(p.event_id, kind) in self.redis.data
                }
                rearm = rearm_of(self.redis.data.get(self.own.rearmed(p.event_id, "performance")))
                out[k] = Serving(p, PROFILE, frozenset(fired), rearm)  # type: ignore[arg-type]
        return out

    async def report_blob(self, event_id: str) -> BlobRef | None:
        raw = self.redis.data.get(self.own.report(event_id))
        return None if raw is None else BlobRef.model_validate_json(raw)


class FakeStore:
    """Blobs in a dict; the next `failures` writes raise."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.failures = 0
        self.puts = 0

    def put(self, data: bytes, *, kind: str, suffix: str = "") -> BlobRef:
        self.puts += 1
        if self.failures:
            self.failures -= 1
            raise OSError("the store is unavailable (fake)")
        sha = hashlib.sha256(data).hexdigest()
        ref = BlobRef(
            key=f"{kind}/{sha[:2]}/{sha}{suffix}", sha256=sha, size=len(data)
        )  # as stored
        self.blobs[ref.key] = data
        return ref

    def get(self, ref: BlobRef) -> bytes:
        return self.blobs[ref.key]


def published(outputs: Sequence[Any]) -> list[Any]:
    return [o.event for o in outputs if isinstance(o, Publish)]
