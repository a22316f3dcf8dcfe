"""The compose stack, checked as files (make compose-test runs it for real on a Docker engine):
one stable predictor port behind a proxy, restarts, Alertmanager, the Redis exporter, and the
image's build-cache layout."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    DEPLOY,
    ROOT,
    compose_env,
    compose_services,
    published_ports,
    run,
    tool,
)

LOCAL = "deploy/compose-test/docker-compose.local.yml"
#: Built from Debian packages where no registry answers (every image compose would pull).
PULLED = {"redis", "prometheus", "alertmanager", "predictor-proxy", "redis-exporter"}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return compose_services(compose_env(tmp_path_factory.mktemp("env")))


def test_every_container_has_an_init_and_comes_back_after_a_crash(
    services: dict[str, Any],
) -> None:
    """init: a failpoint's SIGKILL to itself is ignored when Python is PID 1, so the container
    never exits; restart: a process that died is started again (docker stop/kill are not)."""
    for name, service in services.items():
        assert service.get("init") is True, f"{name} has no init"
        assert service.get("restart") == "unless-stopped", f"{name}: {service.get('restart')}"


def test_the_predictor_replicas_publish_no_port_and_the_proxy_publishes_one_fixed_port(
    services: dict[str, Any],
) -> None:
    assert not services["predictor"].get("ports"), "replicas would fight over host ports"
    assert published_ports(services["predictor-proxy"]) == [("127.0.0.1", "8080")]
    for name, service in services.items():
        for _, port in published_ports(service):
            assert port.isdigit(), f"{name} publishes {port!r}: a range hands out any free port"


def test_the_predictor_port_is_a_setting(tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    env_file.write_text(env_file.read_text() + "DRIFTLOOP_PREDICTOR_PORT=18080\n")
    proxy = compose_services(env_file)["predictor-proxy"]
    assert published_ports(proxy) == [("127.0.0.1", "18080")]


def test_the_proxy_balances_every_predictor_replica_and_checks_their_health() -> None:
    config = (DEPLOY / "proxy" / "haproxy.cfg").read_text()
    assert re.search(r"^\s*server-template predictor \S+ predictor:8000\b", config, re.M)
    assert "resolvers docker" in config and "127.0.0.11:53" in config  # replicas via DNS
    assert "option httpchk GET /healthz" in config and " check " in config
    assert re.search(r"^\s*bind :8080$", config, re.M)


def test_the_console_reaches_the_predictors_through_the_proxy(services: dict[str, Any]) -> None:
    env = services["console"]["environment"]
    assert env["CONSOLE_PREDICTOR_URL"] == "http://predictor-proxy:8080"


def test_prometheus_scrapes_redis_and_the_proxy_and_alerts_alertmanager(
    services: dict[str, Any],
) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["redis"]["static_configs"][0]["targets"] == ["redis-exporter:9121"]
    assert jobs["proxy"]["static_configs"][0]["targets"] == ["predictor-proxy:8404"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    assert {"redis-exporter", "predictor-proxy", "alertmanager"} <= set(services)


def test_the_exporter_logs_in_as_its_own_read_only_user(services: dict[str, Any]) -> None:
    env = services["redis-exporter"]["environment"]
    assert env["REDIS_USER"] == "exporter" and env["REDIS_ADDR"] == "redis://redis:6379"
    assert len(env["REDIS_PASSWORD"]) >= 16
    assert "DRIFTLOOP_REDIS_PASSWORD_EXPORTER" in services["redis"]["environment"]


def test_alertmanager_routes_every_alert_to_a_receiver() -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    assert all(r["receiver"] in receivers for r in config["route"].get("routes", []))


def test_without_a_registry_every_pulled_image_is_built_from_debian_packages(
    tmp_path: Path,
) -> None:
    local = compose_services(compose_env(tmp_path), "docker-compose.yml", LOCAL)
    for name in PULLED:
        build = local[name].get("build")
        assert build, f"{name} has no local build"
        dockerfile = Path(build["context"]) / build["dockerfile"]
        assert "apt-get install" in dockerfile.read_text(), dockerfile


def test_compose_tests_prometheus_config_and_shortened_rules_pass_promtool(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(DEPLOY / "compose-test"))
    try:
        import alerting  # deploy/compose-test/alerting.py

        directory = alerting.test_prometheus_dir(tmp_path / "prometheus")
    finally:
        sys.path.remove(str(DEPLOY / "compose-test"))
    rules = yaml.safe_load((directory / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"DriftDetected", "DeadLettersGrowing", "ConsumerLagging", "NoModelLoaded"} <= names
    assert {"PredictionLogsDropped", "RedisMemoryHigh"} <= names
    assert all(r.get("for", "5s") == "5s" for g in rules["groups"] for r in g["rules"])
    run(tool("promtool"), "check", "rules", str(directory / "alerts.yml"))
    config = yaml.safe_load((directory / "prometheus.yml").read_text())
    config["rule_files"] = [str(directory / "alerts.yml")]
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    run(tool("promtool"), "check", "config", str(directory / "prometheus.yml"))


# The image: dependencies keyed on the lock, code last, no pip in what runs.


def dockerfile_stages() -> list[list[str]]:
    """Each stage's instructions (continuation lines joined), in order."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    found = [p.parent.relative_to(ROOT) for m in members for p in ROOT.glob(f"{m}/pyproject.toml")]
    return sorted(str(p) for p in found)


def test_the_dependency_stage_sees_the_lock_and_pyproject_files_but_no_code() -> None:
    deps = dockerfile_stages()[0]
    copies = [line.split()[1] for line in deps if line.startswith("COPY ")]
    members = {c.removesuffix("/pyproject.toml") for c in copies if c.endswith("/pyproject.toml")}
    assert members == set(workspace_members()), "list each member's pyproject.toml in `deps`"
    assert "uv.lock" in " ".join(deps)
    assert not [c for c in copies if c.rstrip("/") in ("libs", "services") or "/src" in c]


def test_the_runtime_copies_the_venv_before_the_code_and_holds_no_pip() -> None:
    runtime = dockerfile_stages()[-1]
    order = [i for i, line in enumerate(runtime) if line.startswith("COPY ")]
    venv = next(i for i in order if "--from=deps" in runtime[i])
    code = [i for i in order if "/src/" in runtime[i]]
    assert code and all(i > venv for i in code), "code must come after the dependencies"
    removal = next(line for line in runtime if line.startswith("RUN ") and "ensurepip" in line)
    assert "import pip" in removal  # the build fails if pip is still importable
    assert not any("pip install" in line for line in runtime)
