"""`driftloop events tail` and the Redis half of `driftloop status`, against a real Redis:
read-only, full ids, consumer groups behind and dead letters."""

from __future__ import annotations

from pathlib import Path

from driftloop_contracts import TrainingRequested, streams
from driftloop_sdk.cli import app
from driftloop_sdk.embedded_redis import free_port
from typer.testing import CliRunner

from tests.support.streams import Streams


def shell(redis_url: str, namespace: str, tmp_path: Path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "DRIFTLOOP_NAMESPACE": namespace,
        "DRIFTLOOP_STATE_DIR": str(tmp_path / "no-state"),  # the default user
        "DRIFTLOOP_URL": f"http://127.0.0.1:{free_port()}",  # no service runs
    }


def test_tail_shows_one_line_per_event_of_the_dataset_asked_for_with_full_ids(
    redis_url: str, namespace: str, streams_io: Streams, tmp_path: Path
) -> None:
    wanted = TrainingRequested(dataset="plants")
    streams_io.publish(streams.TRAINING_REQUESTED, TrainingRequested(dataset="houses"), wanted)
    env = shell(redis_url, namespace, tmp_path)
    args = ["events", "tail", "--last", "5", "--dataset", "plants", "--timeout", "0.2"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    assert "training.requested.v1" in line and f"event={wanted.event_id}" in line
    ((entry_id, _),) = streams_io.redis.xrevrange(
        streams.TRAINING_REQUESTED.key(namespace), count=1
    )
    assert line.startswith(entry_id.decode())
    assert streams_io.redis.xinfo_groups(streams.TRAINING_REQUESTED.key(namespace)) == []


def test_status_shows_groups_behind_and_dead_letters_and_which_services_are_down(
    redis_url: str, namespace: str, streams_io: Streams, tmp_path: Path
) -> None:
    key = streams.TRAINING_REQUESTED.key(namespace)
    streams_io.redis.xgroup_create(key, "trainer", id="0", mkstream=True)
    streams_io.publish(streams.TRAINING_REQUESTED, TrainingRequested(dataset="plants"))
    streams_io.redis.xadd(f"{key}.dlq", {"stream": "training.requested.v1", "error": "boom"})
    result = CliRunner().invoke(app, ["status"], env=shell(redis_url, namespace, tmp_path))
    assert result.exit_code == 1  # the services are down
    assert "nothing answers: is `driftloop up` running?" in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if "training.requested.v1" in line]
    assert "trainer" in row and row.split("│")[-2].strip() == "1"  # one dead letter
    assert "`driftloop dlq`" in result.stdout
