"""Where the CLI finds the stack: options, then the environment, then the profile file that
`driftloop up` writes, then the defaults of a local stack."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from driftloop_sdk import local, redis_users
from driftloop_sdk.layout import Layout
from driftloop_sdk.profile import Options, Profile, ProfileError, ensure_admin_token, write_file
from driftloop_sdk.runner import Stack


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder without a profile, so the repository's own `driftloop up` does not count."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_without_anything_the_cli_talks_to_a_local_stack_on_its_default_ports() -> None:
    profile = Profile.load(env={})
    assert profile.endpoints.ingest == "http://127.0.0.1:8001"
    assert profile.endpoints.console == "http://127.0.0.1:8006"
    assert profile.redis_url == "redis://127.0.0.1:6390/0"
    assert profile.source == "defaults" and profile.admin_token is None


def test_driftloop_url_gives_every_service_from_its_base_port_and_one_can_be_overridden() -> None:
    env = {
        "DRIFTLOOP_URL": "http://10.0.0.5:9000",
        "DRIFTLOOP_PREDICTOR_URL": "https://predict.example.org/",
    }
    urls = Profile.load(env=env).endpoints
    assert urls.ingest == "http://10.0.0.5:9001"
    assert urls.monitor == "http://10.0.0.5:9005"
    assert urls.console == "http://10.0.0.5:9006"
    assert urls.predictor == "https://predict.example.org"


def test_an_option_beats_the_environment_which_beats_the_profile_file(elsewhere: Path) -> None:
    write_file(
        elsewhere / ".driftloop" / "profile.toml",
        {"url": "http://127.0.0.1:7000", "redis_url": "redis://file:6379/0", "namespace": "f:"},
    )
    from_file = Profile.load(env={})
    assert from_file.endpoints.registry == "http://127.0.0.1:7003"
    assert from_file.redis_url == "redis://file:6379/0" and from_file.namespace == "f:"
    env = {"DRIFTLOOP_URL": "http://127.0.0.1:8100", "REDIS_URL": "redis://env:6379/0"}
    from_env = Profile.load(env=env)
    assert from_env.endpoints.registry == "http://127.0.0.1:8103"
    assert from_env.redis_url == "redis://env:6379/0" and from_env.namespace == "f:"
    given = Profile.load(Options(base_port=8200, redis_url="redis://opt:6379/0"), env=env)
    assert given.endpoints.registry == "http://127.0.0.1:8203"
    assert given.redis_url == "redis://opt:6379/0"


def test_driftloop_profile_names_the_file_and_a_missing_one_is_said(elsewhere: Path) -> None:
    path = write_file(elsewhere / "staging.toml", {"url": "http://staging:8000"})
    assert Profile.load(env={"DRIFTLOOP_PROFILE": str(path)}).endpoints.trainer == (
        "http://staging:8002"
    )
    with pytest.raises(ProfileError, match="not a file"):
        Profile.load(env={"DRIFTLOOP_PROFILE": str(elsewhere / "nope.toml")})


def test_a_base_url_without_a_port_says_what_it_needs() -> None:
    with pytest.raises(ProfileError, match="base port"):
        Profile.load(env={"DRIFTLOOP_URL": "http://localhost"})


def test_the_admin_token_is_made_once_in_the_state_folder_0600_and_read_back(
    elsewhere: Path,
) -> None:
    state = elsewhere / "state"
    token, created = ensure_admin_token(state, lambda: "first-token-0123456789")
    again, created_again = ensure_admin_token(state, lambda: "second-token-0123456789")
    assert (token, created) == ("first-token-0123456789", True)
    assert (again, created_again) == ("first-token-0123456789", False)
    assert stat.S_IMODE((state / "admin.token").stat().st_mode) == 0o600
    assert Profile.load(Options(state_dir=state), env={}).admin_token == token
    assert Profile.load(
        Options(state_dir=state), env={"DRIFTLOOP_ADMIN_TOKEN": "x"}
    ).admin_token == ("x")


def test_redis_logins_are_the_ones_given_else_the_state_folders_per_user(elsewhere: Path) -> None:
    state = elsewhere / "state"
    redis_users.ensure_passwords(state, ("client", "admin"))
    profile = Profile.load(Options(state_dir=state), env={})
    assert profile.login("client").username == "client"
    assert profile.redis_login.username == "admin"
    given = Profile.load(
        Options(state_dir=state), env={"REDIS_USERNAME": "ops", "REDIS_PASSWORD": "p"}
    )
    assert given.login("client").username == "ops" and given.redis_login.password == "p"


def test_up_writes_a_profile_0600_that_the_cli_then_reads(elsewhere: Path) -> None:
    state = elsewhere / ".driftloop" / "state"
    stack = SimpleNamespace(
        state_dir=state, redis_url="redis://127.0.0.1:6391/0", namespace="", layout=Layout()
    )
    path = local.write_profile(stack, 8100)  # type: ignore[arg-type]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    local.admin_token(state)
    profile = Profile.load(env={})  # found in ./.driftloop/state/profile.toml
    assert profile.source.endswith("profile.toml")
    assert profile.endpoints.monitor == "http://127.0.0.1:8105"
    assert profile.redis_url == "redis://127.0.0.1:6391/0"
    assert profile.admin_token is not None
    assert profile.layout == Layout()


def test_a_stack_up_with_shards_tells_the_cli_how_many(elsewhere: Path) -> None:
    state = elsewhere / ".driftloop" / "state"
    stack = SimpleNamespace(
        state_dir=state,
        redis_url="redis://127.0.0.1:6391/0",
        namespace="t:",
        layout=Layout(shards=3),
    )
    local.write_profile(stack, 8100)  # type: ignore[arg-type]
    profile = Profile.load(env={})
    assert profile.layout.shards == 3 and profile.layout.keys.of("demo").prefix.startswith("t:{")
    assert Profile.load(env={"REDIS_SHARDS": "4"}).layout.shards == 4  # the environment wins


def test_the_redis_layout_is_read_as_the_services_read_it() -> None:
    env = {
        "REDIS_SHARDS": "6",
        "REDIS_CLUSTER": "true",
        "REDIS_CLUSTER_NODES": "redis-0:7000,redis-1:7001",
    }
    layout = Profile.load(env=env).layout
    assert (layout.shards, layout.cluster) == (6, True)
    assert layout.cluster_nodes == (("redis-0", 7000), ("redis-1", 7001))
    assert layout.env() == env  # what `driftloop console` passes on to the console
    sentinels = Profile.load(env={"REDIS_SENTINELS": "s0:26379,s1:26379"}).layout
    assert sentinels.sentinels == (("s0", 26379), ("s1", 26379)) and not sentinels.cluster


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REDIS_SHARDS": "many"}, "REDIS_SHARDS"),
        ({"REDIS_SHARDS": "0"}, "REDIS_SHARDS"),
        ({"REDIS_CLUSTER": "perhaps"}, "REDIS_CLUSTER"),
        ({"REDIS_SENTINELS": "s0"}, "REDIS_SENTINELS"),
        ({"REDIS_CLUSTER": "1", "REDIS_SENTINELS": "s0:26379"}, "not both"),
        ({"REDIS_SHARDS": "2", "DRIFTLOOP_NAMESPACE": "a{b"}, "DRIFTLOOP_NAMESPACE"),
    ],
)
def test_a_layout_that_cannot_be_used_is_refused_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ProfileError, match=named):
        Profile.load(env=env)


def test_report_links_of_a_stack_point_at_the_port_its_monitor_listens_on(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_PUBLIC_URL", raising=False)
    stack = Stack(elsewhere / "state", base_port=9100, redis_url="redis://127.0.0.1:1/0", sink=None)
    assert stack._env("drift-monitor")["MONITOR_PUBLIC_URL"] == "http://127.0.0.1:9105"
