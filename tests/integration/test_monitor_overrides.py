"""The drift monitor takes each dataset's monitoring overrides from its registration: loaded
at start-up, then followed, no restart."""

from __future__ import annotations

from pathlib import Path

from driftloop_contracts import DatasetRegistered, streams
from driftloop_core import ContentStore
from driftloop_sdk.scenario import SCHEMA

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

from .monitor_support import running


def registered(**monitoring: float) -> DatasetRegistered:
    return DatasetRegistered(
        producer="test", dataset=SCHEMA.name, dataset_schema=SCHEMA, monitoring=monitoring
    )


def test_a_datasets_overrides_apply_from_its_registration_without_a_restart(
    redis_url: str, namespace: str, tmp_path: Path, streams_io: Streams
) -> None:
    streams_io.publish(streams.DATASET_REGISTERED, registered(window_size=100))
    with running(redis_url, namespace, ContentStore(str(tmp_path))) as client:
        configs = client.app.state.monitor.configs  # type: ignore[attr-defined]
        assert configs.of(SCHEMA.name).windows.window_size == 100
        assert configs.of("other").windows.window_size != 100
        streams_io.publish(streams.DATASET_REGISTERED, registered(window_size=200, alpha=0.02))
        eventually_sync(
            lambda: configs.of(SCHEMA.name).windows.window_size == 200,
            what="the monitor to follow the new registration",
        )
        assert configs.of(SCHEMA.name).windows.alpha == 0.02
