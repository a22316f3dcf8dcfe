"""The drift monitor watches a version only if the registry signed its promotion for that
dataset and version; any other promotion in the serving state is refused (metric, warning)
and its rows are not watched."""

from __future__ import annotations

from typing import Any

from driftloop_bus import Keys
from driftloop_bus.serving import versions_key
from driftloop_contracts import BlobRef, ModelPromoted
from driftloop_core.signing import Signer, generate
from driftloop_drift_monitor.policy import Serving, Unservable
from driftloop_drift_monitor.reader import SnapshotReader
from driftloop_drift_monitor.watch import WatchKey
from prometheus_client import REGISTRY

from tests.support.signing import sealed, verifier
from tests.unit.monitor_world import PROFILE_BYTES, promotion

KEYS = Keys("t:")


class FakeRedis:
    """The serving state's versions hash, and no fired markers."""

    def __init__(self, filed: dict[str, ModelPromoted]) -> None:
        self.filed = {name: p.model_dump_json().encode() for name, p in filed.items()}

    async def hget(self, key: str, field: str) -> bytes | None:
        assert key == versions_key(KEYS)
        return self.filed.get(field)

    async def mget(self, names: list[str]) -> list[Any]:
        return [None] * len(names)


class Profiles:
    def get(self, ref: BlobRef) -> bytes:
        return PROFILE_BYTES

    def put(self, data: bytes, *, kind: str, suffix: str = "") -> BlobRef:
        raise AssertionError("not written here")


async def look_up(filed: dict[str, ModelPromoted], key: WatchKey) -> Serving | Unservable:
    reader = SnapshotReader(FakeRedis(filed), KEYS, Profiles(), verifier())  # type: ignore[arg-type]
    return (await reader.serving([key], {}))[key]


def refused(reason: str) -> float:
    labels = {"kind": "promotion", "reason": reason}
    return REGISTRY.get_sample_value("driftloop_refused_decisions_total", labels) or 0.0


async def test_a_version_promoted_by_the_registry_is_watched() -> None:
    found = await look_up({"credit/1": sealed(promotion(1))}, WatchKey("credit", 1))
    assert isinstance(found, Serving) and found.promotion.model_version == 1


async def test_a_promotion_signed_with_another_key_is_not_watched() -> None:
    before = refused("bad_signature")
    forged = Signer.from_base64(generate()[0]).sign(promotion(1))

    found = await look_up({"credit/1": forged}, WatchKey("credit", 1))

    assert isinstance(found, Unservable) and found.reason == "untrusted_promotion"
    assert "signature is not the registry's" in found.detail
    assert refused("bad_signature") == before + 1


async def test_a_real_promotion_filed_under_another_version_is_not_watched() -> None:
    before = refused("wrong_version")

    found = await look_up({"credit/2": sealed(promotion(1))}, WatchKey("credit", 2))

    assert isinstance(found, Unservable) and found.reason == "untrusted_promotion"
    assert refused("wrong_version") == before + 1


async def test_a_real_promotion_filed_under_another_dataset_is_not_watched() -> None:
    found = await look_up({"loans/1": sealed(promotion(1))}, WatchKey("loans", 1))
    assert isinstance(found, Unservable) and "signed for dataset 'credit'" in found.detail
