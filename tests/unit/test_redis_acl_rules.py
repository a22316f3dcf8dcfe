"""The ACL rules: rendered from driftloop_bus.acl, committed as deploy/redis/users.acl.template."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from driftloop_bus import acl
from driftloop_contracts.keys import Keys
from driftloop_sdk.cli import app
from typer.testing import CliRunner

TEMPLATE = Path(__file__).parents[2] / "deploy" / "redis" / "users.acl.template"


def test_the_committed_template_is_what_the_cli_renders() -> None:
    rendered = CliRunner().invoke(app, ["redis", "acl"])
    assert rendered.exit_code == 0, rendered.output
    assert TEMPLATE.read_text() == rendered.output, "run `driftloop redis acl > " + str(TEMPLATE)


def test_the_template_turns_the_default_user_off_and_names_each_password_variable() -> None:
    lines = TEMPLATE.read_text().splitlines()
    assert lines[0] == "user default off resetkeys resetchannels -@all"
    users = {line.split()[1]: line for line in lines[1:]}
    assert set(users) == {*acl.SERVICES, "client", "admin", "console", "console-admin", "exporter"}
    assert users["drift-monitor"].startswith(
        "user drift-monitor on >${DRIFTLOOP_REDIS_PASSWORD_DRIFT_MONITOR} "
    )


def test_a_consumer_reads_its_input_in_a_selector_without_xadd() -> None:
    consume, keys = acl.selectors(acl.ACCESS["registry"], "ns:")[0]
    assert "+xreadgroup" in consume and "+xack" in consume and "+xautoclaim" in consume
    assert "+xadd" not in consume
    assert "%RW~ns:training.completed.v1" in keys


def test_a_service_publishes_only_its_outputs_and_its_inputs_dead_letters() -> None:
    publish = unsharded(dict(acl.selectors(acl.ACCESS["trainer"]))[acl.PUBLISH])
    assert publish == [
        "~training.completed.v1",
        "~training.failed.v1",
        "~training.requested.v1",  # the admin route that starts a run now
        "~training.skipped.v1",
        *(f"~{s}.dlq" for s in acl.ACCESS["trainer"].consumes),
    ]


def test_the_client_may_only_publish_records_and_labels() -> None:
    assert acl.selectors(acl.ACCESS["client"]) == [
        (
            acl.PUBLISH,
            [
                "~ingest.records.v1",
                "~{s*}:ingest.records.v1",
                "~feedback.received.v1",
                "~{s*}:feedback.received.v1",
            ],
        )
    ]


def test_every_pattern_has_its_twin_in_any_shard_matching_the_tagged_keys() -> None:
    keys = Keys("ns:", shards=8).of("demo")
    for user in acl.ACCESS:
        for _, patterns in acl.selectors(acl.ACCESS[user], "ns:"):
            for pattern in unsharded(patterns):
                perms, _, plain = pattern.rpartition("~")
                assert f"{perms}~ns:{{s*}}:{plain[3:]}" in patterns
    (_, own), *_ = [s for s in acl.selectors(acl.ACCESS["ingest"], "ns:") if s[0] == acl.OWN]
    assert any(fnmatchcase(keys.owned("ingest", "join", "x"), p.lstrip("~")) for p in own)
    assert any(fnmatchcase(keys.seen("ingest", "e1"), p.lstrip("~")) for p in own)


def unsharded(patterns: list[str]) -> list[str]:
    return [p for p in patterns if "{s*}" not in p]


def test_the_namespace_is_a_literal_inside_the_patterns() -> None:
    rendered = acl.render("a*b:", {u: "x" * 20 for u in acl.USERS})
    assert "~a\\*b:model.promoted.v1" in rendered
    assert ">" not in rendered.replace("%R", "")  # hashes, not passwords


def test_redis_6_rules_have_no_selectors() -> None:
    coarse = acl.rules("predictor", selectors_supported=False)
    assert "(" not in coarse and "%R" not in coarse
    assert "+xadd" in coarse and "~model.promoted.v1" in coarse


def test_the_exporter_has_no_keys_and_no_configuration() -> None:
    rules = acl.rules("exporter")
    assert "~" not in rules and "%" not in rules
    assert "+info" in rules and "+slowlog|get" in rules and "+latency|latest" in rules
    assert "config" not in rules and "client|list" not in rules


def test_redis_6_exporter_rules_leave_out_what_only_redis_7_knows() -> None:
    assert "+latency|histogram" not in acl.rules("exporter", selectors_supported=False)
