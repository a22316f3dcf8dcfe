"""deploy/k8s as a platform team runs it: the autoscaler owns the predictors' number, images
come from kustomize, predictors spread out, Redis's maxmemory sits below its limit, and the
overlays (monitoring, S3, Sentinel) render valid objects that say what they promise."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml
from driftloop_bus import BusSettings

from tests.deploy.netpol import Pod, allowed
from tests.deploy.support import DEPLOY, PYTHON_SERVICES, kustomize
from tests.deploy.test_kubernetes_hardening import NAMESPACE, restricted_violations, workloads

K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30.0"
OVERLAYS = ["overlays/monitoring", "overlays/s3", "overlays/sentinel"]
CRDS = {"ServiceMonitor", "PrometheusRule"}
UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pods = [
        d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")
    ]
    return [c for pod in pods for c in pod.get("initContainers", []) + pod["containers"]]


def quantity(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]i)?", text).groups()  # type: ignore[union-attr]
    return int(number) * UNITS.get(unit or "", 1)


@pytest.mark.parametrize("target", OVERLAYS)
def test_each_overlay_renders_objects_valid_for_the_api(target: str) -> None:
    for doc in kustomize(target):
        if doc["kind"] not in CRDS:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("target", ["base", "overlays/local", *OVERLAYS])
def test_the_autoscaler_alone_sets_the_number_of_predictors(target: str) -> None:
    docs = kustomize(target)
    assert "replicas" not in named(docs, "Deployment", "predictor")["spec"]
    hpa = named(docs, "HorizontalPodAutoscaler", "predictor")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "predictor",
    }


def test_the_base_manifests_name_images_without_a_tag_and_kustomize_sets_every_one() -> None:
    listed = {
        i["name"]
        for i in yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["images"]
    }
    for path in sorted((K8S / "base").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for container in containers([doc] if doc else []):
                assert ":" not in container["image"], f"{path.name}: {container['image']}"
                assert container["image"] in listed, f"{container['image']} not in images:"
    for target in ["base", "overlays/local", *OVERLAYS]:
        images = {c["image"] for c in containers(kustomize(target))}
        assert all(re.fullmatch(r"[\w./-]+:[\w.-]+", i) for i in images), (target, images)
        assert len({i for i in images if i.startswith("redis:")}) == 1, (target, images)


def test_predictors_spread_over_zones_and_nodes() -> None:
    pod = named(kustomize("base"), "Deployment", "predictor")["spec"]["template"]["spec"]
    spread = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in spread.values():
        assert constraint["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "predictor"}
        assert constraint["maxSkew"] == 1


def maxmemory_of(redis: dict[str, Any]) -> int:
    """The maxmemory deploy/redis/start.sh gives this container, in bytes."""
    env = {v["name"]: v for v in redis["env"]}
    limit = quantity(redis["resources"]["limits"]["memory"])
    if "REDIS_MAXMEMORY" in env:
        value = env["REDIS_MAXMEMORY"]["value"].lower()
        number, unit = re.fullmatch(r"(\d+)(b|kb|mb|gb)?", value).groups()  # type: ignore[union-attr]
        return int(number) * {"kb": 1024, "mb": 1024**2, "gb": 1024**3}.get(unit or "b", 1)
    field = env["REDIS_MEMORY_LIMIT_BYTES"]["valueFrom"]["resourceFieldRef"]
    assert field == {"containerName": redis["name"], "resource": "limits.memory"}
    return limit // 100 * int(env["REDIS_MAXMEMORY_PERCENT"]["value"])


@pytest.mark.parametrize("target", ["base", "overlays/sentinel"])
def test_redis_maxmemory_leaves_headroom_below_its_memory_limit(target: str) -> None:
    pod = named(kustomize(target), "StatefulSet", "redis")["spec"]["template"]["spec"]
    redis = next(c for c in pod["containers"] if c["name"] == "redis")
    limit = quantity(redis["resources"]["limits"]["memory"])
    assert redis["resources"]["requests"]["memory"] == redis["resources"]["limits"]["memory"]
    # the AOF rewrite forks: pages written meanwhile are copied; plus client/replica buffers
    assert 0.4 * limit <= maxmemory_of(redis) <= 0.7 * limit


# --- monitoring ------------------------------------------------------------------------------


def _prometheusrule_module() -> Any:
    spec = importlib.util.spec_from_file_location("prometheusrule", K8S / "prometheusrule.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_prometheusrule_is_alerts_yml_as_generated() -> None:
    committed = K8S / "components" / "monitoring" / "prometheusrule.yaml"
    assert committed.read_text() == _prometheusrule_module().render(), (
        "python deploy/k8s/prometheusrule.py > " + str(committed.relative_to(DEPLOY.parent))
    )
    rule = named(kustomize("overlays/monitoring"), "PrometheusRule", "driftloop")
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]


def test_the_service_monitors_scrape_every_service_and_redis_as_job_redis() -> None:
    docs = kustomize("overlays/monitoring")
    services = named(docs, "ServiceMonitor", "driftloop")
    selector = services["spec"]["selector"]["matchExpressions"][0]
    assert set(selector["values"]) == set(PYTHON_SERVICES)
    assert all(
        named(docs, "Service", s)["spec"]["ports"][0]["name"] == "http" for s in PYTHON_SERVICES
    )
    redis = named(docs, "ServiceMonitor", "redis")
    metrics = named(docs, "Service", "redis-metrics")
    assert redis["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert {"targetLabel": "job", "replacement": "redis"} in redis["spec"]["endpoints"][0][
        "relabelings"
    ]


def test_the_exporter_is_a_sidecar_of_redis_logging_in_as_the_exporter_user() -> None:
    pod = named(kustomize("overlays/monitoring"), "StatefulSet", "redis")["spec"]["template"][
        "spec"
    ]
    assert [c["name"] for c in pod["containers"]] == ["redis", "redis-exporter"]
    exporter = pod["containers"][1]
    env = {v["name"]: v for v in exporter["env"]}
    assert env["REDIS_USER"]["value"] == "exporter"
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "driftloop-redis-exporter"
    assert exporter["ports"] == [{"containerPort": 9121, "name": "metrics"}]
    assert exporter["securityContext"]["readOnlyRootFilesystem"] is True


# --- the store on S3 -------------------------------------------------------------------------


def test_the_s3_overlay_needs_no_shared_volume() -> None:
    docs = kustomize("overlays/s3")
    config = named(docs, "ConfigMap", "driftloop-config")["data"]
    assert config["STORE_URL"].startswith("s3://") and "DRIFTLOOP_STORE" not in config
    claims = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert [c["metadata"]["name"] for c in claims] == ["driftloop-registry"]  # its SQLite file
    assert all("ReadWriteMany" not in c["spec"]["accessModes"] for c in claims)
    for name in set(PYTHON_SERVICES) - {"console"}:
        pod = named(docs, "Deployment", name)["spec"]["template"]["spec"]
        store = next(v for v in pod["volumes"] if v["name"] == "store")
        assert "persistentVolumeClaim" not in store, name
        env = {v["name"] for v in pod["containers"][0]["env"]}
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= env, name


@pytest.mark.parametrize("target", OVERLAYS)
def test_every_pod_of_the_overlays_meets_the_restricted_standard(target: str) -> None:
    pods = workloads(kustomize(target))
    problems = {name: restricted_violations(pod) for name, pod in pods.items()}
    assert not any(problems.values()), problems
    assert all(pod.get("automountServiceAccountToken") is False for pod in pods.values())


# --- Redis with Sentinel ---------------------------------------------------------------------

SENTINELS = [f"redis-sentinel-{i}.redis-sentinel" for i in range(3)]


def test_the_services_find_the_primary_through_three_sentinels_and_wait_for_the_replica() -> None:
    docs = kustomize("overlays/sentinel")
    config = named(docs, "ConfigMap", "driftloop-config")["data"]
    assert config["REDIS_SENTINELS"] == ",".join(f"{s}:26379" for s in SENTINELS)
    assert config["REDIS_SENTINEL_MASTER"] == "driftloop"
    assert config["REDIS_WAIT_REPLICAS"] == "1"
    settings = BusSettings(**{k.lower(): v for k, v in config.items() if k.startswith("REDIS_")})
    assert settings.sentinels() == [(s, 26379) for s in SENTINELS]


def test_a_primary_and_a_replica_on_two_nodes_and_three_sentinels_with_a_quorum_budget() -> None:
    docs = kustomize("overlays/sentinel")
    redis = named(docs, "StatefulSet", "redis")
    assert redis["spec"]["replicas"] == 2
    spread = redis["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert (spread["topologyKey"], spread["whenUnsatisfiable"]) == (
        "kubernetes.io/hostname",
        "DoNotSchedule",
    )
    assert named(docs, "Service", "redis")["spec"]["clusterIP"] == "None"  # pod DNS names
    sentinels = named(docs, "StatefulSet", "redis-sentinel")
    assert sentinels["spec"]["replicas"] == 3
    assert named(docs, "PodDisruptionBudget", "redis-sentinel")["spec"]["minAvailable"] == 2
    env = {v["name"]: v for v in sentinels["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["REDIS_SENTINEL_HOSTS"]["value"].split() == SENTINELS


def test_the_node_and_sentinel_scripts_are_valid_shell() -> None:
    for name in ("redis-node.sh", "sentinel.sh"):
        done = subprocess.run(["sh", "-n", str(K8S / "components" / "sentinel" / name)])
        assert done.returncode == 0, name
    sentinel = (K8S / "components" / "sentinel" / "sentinel.sh").read_text()
    assert "sentinel monitor $master_name $primary 6379 2" in sentinel  # quorum of 2 of 3


def sentinel_pod(name: str) -> Pod:
    return Pod(NAMESPACE, {"app.kubernetes.io/name": name}, {"name": NAMESPACE})


@pytest.mark.parametrize(
    ("source", "destination", "port", "expected"),
    [
        ("predictor", "redis-sentinel", 26379, True),
        ("ingest", "redis-sentinel", 26379, True),
        ("redis-sentinel", "redis", 6379, True),
        ("redis-sentinel", "redis-sentinel", 26379, True),
        ("redis", "redis", 6379, True),  # the replica syncs from the primary
        ("redis", "redis-sentinel", 26379, True),
        ("predictor", "redis", 6379, True),
        ("debug-shell", "redis-sentinel", 26379, False),
        ("redis-sentinel", "ingest", 8000, False),
    ],
)
def test_who_reaches_the_sentinels_and_the_redis_nodes(
    source: str, destination: str, port: int, expected: bool
) -> None:
    rules = [d for d in kustomize("overlays/sentinel") if d["kind"] == "NetworkPolicy"]
    rules = [{**r, "metadata": {**r["metadata"], "namespace": NAMESPACE}} for r in rules]
    assert allowed(rules, sentinel_pod(source), sentinel_pod(destination), port) is expected
