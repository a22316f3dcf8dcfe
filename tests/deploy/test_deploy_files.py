"""The deployment files, checked offline: compose, Kubernetes, Prometheus, Grafana.

Needs docker-compose, kubectl (for kustomize) and promtool; `make test` installs them.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from driftloop_contracts import DatasetSchema
from driftloop_sdk.scenario import SCHEMA
from prometheus_client import REGISTRY

from tests.deploy.support import (
    DEPLOY,
    compose_config,
    compose_env,
    compose_services,
    run,
    tool,
)

K8S_VERSION = "1.30.0"
SERVICE_MODULES = [
    "driftloop_bus.bus",
    "driftloop_bus.maintenance",
    "driftloop_ingest.bootstrap",
    "driftloop_trainer.bootstrap",
    "driftloop_registry.bootstrap",
    "driftloop_predictor.bootstrap",
    "driftloop_drift_monitor.bootstrap",
]


def exported_metrics() -> set[str]:
    """Every sample name the services expose (histograms as _bucket/_count/_sum)."""
    for module in SERVICE_MODULES:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("driftloop"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}_{s}" for s in ("bucket", "count", "sum"))
        else:
            names.add(family.name)
    return names


def metrics_in(text: str) -> set[str]:
    return set(re.findall(r"\b(driftloop_[a-z_]+)", text))


@pytest.mark.parametrize(
    "files",
    [
        ["docker-compose.yml"],
        ["docker-compose.yml", "deploy/compose-test/docker-compose.local.yml"],
        ["docker-compose.yml", "deploy/compose/redis-published.yml"],
    ],
    ids=["compose", "compose-with-local-images", "compose-with-redis-published"],
)
def test_the_compose_files_are_valid(files: list[str], tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    services = compose_services(env_file, *files)
    assert {
        "redis",
        "ingest",
        "trainer",
        "registry",
        "predictor",
        "drift-monitor",
        "prometheus",
        "grafana",
    } <= set(services)
    assert "--appendonly" in services["redis"]["command"]


def test_compose_refuses_to_start_without_an_admin_token(tmp_path: Path) -> None:
    env_file = compose_env(tmp_path)
    env_file.write_text(
        "".join(
            line + "\n"
            for line in env_file.read_text().splitlines()
            if not line.startswith("REGISTRY_ADMIN_TOKEN=")
        )
    )
    done = compose_config(env_file)
    assert done.returncode != 0 and "REGISTRY_ADMIN_TOKEN" in done.stderr


@pytest.mark.parametrize("target", ["base", "overlays/local"])
def test_the_kubernetes_manifests_render_and_validate_against_the_api_schemas(target: str) -> None:
    rendered = run(tool("kubectl"), "kustomize", f"deploy/k8s/{target}")
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = {d["kind"] for d in docs}
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "StatefulSet",
    } <= kinds
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"livenessProbe", "readinessProbe", "resources"} <= set(container), deployment
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]


def test_the_alert_rules_pass_promtool_and_name_real_metrics() -> None:
    run(tool("promtool"), "check", "rules", "deploy/prometheus/alerts.yml")
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    unknown = metrics_in(text) - exported_metrics()
    assert not unknown, f"alert rules name metrics no service exports: {sorted(unknown)}"


def test_each_alert_fires_for_its_event_from_the_first_one_and_not_without_it() -> None:
    """deploy/prometheus/alerts.test.yml: promtool's rule unit tests, one per alert (a
    labelled counter appears at 1 on its first event, which `increase()` alone never saw)."""
    run(tool("promtool"), "test", "rules", "deploy/prometheus/alerts.test.yml")
    prometheus = DEPLOY / "prometheus"
    tested = set(re.findall(r"alertname: (\w+)", (prometheus / "alerts.test.yml").read_text()))
    rules = set(re.findall(r"- alert: (\w+)", (prometheus / "alerts.yml").read_text()))
    assert rules <= tested, f"alerts without a promtool test: {sorted(rules - tested)}"


def test_the_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["rule_files"] = [str(DEPLOY / "prometheus" / "alerts.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    run(tool("promtool"), "check", "config", str(local))


def test_the_dashboard_queries_only_name_metrics_the_services_export() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "driftloop.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs, "the dashboard has no queries"
    named = set().union(*(metrics_in(e) for e in exprs))
    unknown = named - exported_metrics()
    assert not unknown, f"dashboard queries metrics no service exports: {sorted(unknown)}"
    wanted = {
        "driftloop_predictor_request_seconds_bucket",
        "driftloop_predictor_batch_rows_sum",
        "driftloop_consumer_lag",
        "driftloop_dead_letters",
        "driftloop_drift_score",
        "driftloop_predictor_model_version",
        "driftloop_predictor_model_promoted_timestamp_seconds",
    }
    assert wanted <= named, f"dashboard lacks {sorted(wanted - named)}"


def test_every_copy_of_the_demo_schema_is_the_one_the_demo_generates() -> None:
    for path in (
        DEPLOY / "schemas" / "demo.json",
        DEPLOY / "k8s" / "base" / "schemas" / "demo.json",
    ):
        assert DatasetSchema.model_validate_json(path.read_text()) == SCHEMA, path
