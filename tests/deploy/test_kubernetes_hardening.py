"""deploy/k8s, rendered by kustomize: every pod meets the restricted Pod Security Standard, holds
only its own secrets and no service-account token, and only the services reach Redis."""

from __future__ import annotations

from typing import Any

import pytest
from driftloop_bus.secrets import placeholder_reason

from tests.deploy.netpol import OUTSIDE, Pod, allowed
from tests.deploy.support import DEPLOY, PYTHON_SERVICES, credentials, kustomize

TARGETS = ["base", "overlays/local"]
NAMESPACE = "driftloop"
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> pod spec of every Deployment and StatefulSet."""
    kinds = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
    found = {d["metadata"]["name"]: d for d in docs if d["kind"] in kinds}
    assert not {d["kind"] for d in found.values()} - {"Deployment", "StatefulSet"}
    return {name: d["spec"]["template"]["spec"] for name, d in found.items()}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What breaks the restricted Pod Security Standard (v1.30) in a pod spec."""
    bad = [f"host namespace {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    pod_ctx = pod.get("securityContext", {})
    bad += [f"volume {v['name']}" for v in pod.get("volumes", []) if not ALLOWED_VOLUMES & set(v)]
    for c in pod.get("initContainers", []) + pod["containers"]:
        ctx = c.get("securityContext", {})
        name = c["name"]
        if ctx.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{name}: allowPrivilegeEscalation is not false")
        if ctx.get("capabilities", {}).get("drop") != ["ALL"]:
            bad.append(f"{name}: capabilities not dropped")
        if set(ctx.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            bad.append(f"{name}: capabilities added")
        if not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")):
            bad.append(f"{name}: runAsNonRoot is not true")
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            bad.append(f"{name}: runs as root")
        seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{name}: no RuntimeDefault seccomp profile")
        if ctx.get("privileged"):
            bad.append(f"{name}: privileged")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            bad.append(f"{name}: hostPort")
    return bad


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_meets_the_restricted_pod_security_standard(target: str) -> None:
    pods = workloads(kustomize(target))
    assert set(pods) == {*PYTHON_SERVICES, "redis"}
    problems = {name: restricted_violations(pod) for name, pod in pods.items()}
    assert not any(problems.values()), problems


@pytest.mark.parametrize("target", TARGETS)
def test_no_pod_gets_a_service_account_token(target: str) -> None:
    for name, pod in workloads(kustomize(target)).items():
        assert pod.get("automountServiceAccountToken") is False, name


@pytest.mark.parametrize("target", TARGETS)
def test_every_root_filesystem_is_read_only_and_what_must_be_written_is_a_volume(
    target: str,
) -> None:
    for name, pod in workloads(kustomize(target)).items():
        container = pod["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        needed = {"/data"} if name == "redis" else {"/tmp", "/data/store"}
        if name == "console":  # reads APIs and streams: no content store
            needed = {"/tmp"}
        assert needed <= mounts, (name, mounts)


def test_the_namespace_enforces_the_restricted_standard() -> None:
    namespace = next(d for d in kustomize("overlays/local") if d["kind"] == "Namespace")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def secret_refs(pod: dict[str, Any]) -> dict[str, str]:
    """env name -> Secret name, for every secret a pod's containers read."""
    refs = {}
    for c in pod.get("initContainers", []) + pod["containers"]:
        for var in c.get("env", []):
            if ref := var.get("valueFrom", {}).get("secretKeyRef"):
                refs[var["name"]] = ref["name"]
        assert not any("secretRef" in e for e in c.get("envFrom", [])), "whole Secrets leak"
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            refs[f"volume:{volume['name']}"] = volume["secret"]["secretName"]
    return refs


EXPECTED_SECRETS = {
    "ingest": {"driftloop-redis-ingest"},
    "trainer": {"driftloop-redis-trainer", "driftloop-trainer-signing-key"},
    "registry": {
        "driftloop-redis-registry",
        "driftloop-registry-signing-key",
        "driftloop-registry-admin-token",
        "driftloop-public-keys",
    },
    "predictor": {"driftloop-redis-predictor", "driftloop-public-keys"},
    "drift-monitor": {"driftloop-redis-drift-monitor", "driftloop-public-keys"},
    "console": {
        "driftloop-redis-console",
        "driftloop-redis-console-admin",  # dead-letter replay only
        "driftloop-console-admin-token-hash",
    },
    "redis": {f"driftloop-redis-{user}" for user in credentials.REDIS_USERS},
}


def test_each_pod_reads_only_its_own_secrets_and_connects_as_its_own_redis_user() -> None:
    pods = workloads(kustomize("base"))
    assert {name: set(secret_refs(pod).values()) for name, pod in pods.items()} == EXPECTED_SECRETS
    for name in PYTHON_SERVICES:
        env = {v["name"]: v for v in pods[name]["containers"][0]["env"]}
        assert env["REDIS_USERNAME"]["value"] == name
        assert "REDIS_URL" not in env, "the address comes from the ConfigMap, without credentials"


def base_secrets() -> dict[str, dict[str, str]]:
    docs = kustomize("base")
    return {d["metadata"]["name"]: d["stringData"] for d in docs if d["kind"] == "Secret"}


def test_every_secret_the_base_ships_is_a_placeholder_that_is_refused() -> None:
    secrets = base_secrets()
    assert set(secrets) == set().union(*EXPECTED_SECRETS.values())
    for name, data in secrets.items():
        for key, value in data.items():
            assert placeholder_reason(value) is not None, f"{name}/{key} would be accepted"


def test_the_secrets_generator_fills_every_secret_the_base_needs_with_real_values() -> None:
    real = credentials.k8s_secret_values(credentials.generate())
    placeholders = base_secrets()
    assert {n: set(d) for n, d in real.items()} == {n: set(d) for n, d in placeholders.items()}
    for name, data in real.items():
        for key, value in data.items():
            assert placeholder_reason(value) is None, f"{name}/{key}"


def test_the_kubernetes_copies_of_the_redis_start_files_are_the_deploy_redis_ones() -> None:
    for name in ("start.sh", "users.acl.template"):
        copy = DEPLOY / "k8s" / "base" / "redis" / name
        assert copy.read_text() == (DEPLOY / "redis" / name).read_text(), (
            f"cp deploy/redis/{name} deploy/k8s/base/redis/{name}"
        )


def test_redis_starts_through_the_start_script_with_every_password() -> None:
    redis = workloads(kustomize("base"))["redis"]["containers"][0]
    assert redis["command"] == ["/bin/sh", "/etc/driftloop/redis/start.sh"]
    names = {v["name"] for v in redis["env"]}
    assert {credentials.password_variable(u) for u in credentials.REDIS_USERS} <= names


# --- who may reach whom ---------------------------------------------------------------------


def policies() -> list[dict[str, Any]]:
    return [d for d in kustomize("overlays/local") if d["kind"] == "NetworkPolicy"]


def pod(name: str, namespace: str = NAMESPACE) -> Pod:
    return Pod(namespace, {"app.kubernetes.io/name": name}, {"name": namespace})


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_each_service_reaches_redis_and_dns(service: str) -> None:
    rules = policies()
    assert allowed(rules, pod(service), pod("redis"), 6379)
    dns = Pod("kube-system", {"k8s-app": "kube-dns"}, {"name": "kube-system"})
    assert allowed(rules, pod(service), dns, 53, "UDP")


@pytest.mark.parametrize(
    "stranger",
    [
        Pod(NAMESPACE, {"app": "debug-shell"}, {"name": NAMESPACE}),
        pod("ingest", namespace="other-team"),
        OUTSIDE,
    ],
    ids=["another-pod-here", "a-pod-elsewhere", "outside-the-cluster"],
)
def test_nothing_but_the_services_reaches_redis(stranger: Pod) -> None:
    assert not allowed(policies(), stranger, pod("redis"), 6379)


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_clients_reach_only_the_http_port_of_a_service(service: str) -> None:
    rules = policies()
    assert allowed(rules, OUTSIDE, pod(service), 8000)
    assert not allowed(rules, OUTSIDE, pod(service), 8001)


def test_redis_and_the_services_reach_nothing_else() -> None:
    rules = policies()
    assert not allowed(rules, pod("redis"), pod("ingest"), 8000)
    assert not allowed(rules, pod("redis"), OUTSIDE, 443)
    assert not allowed(rules, pod("predictor"), OUTSIDE, 443)
    assert not allowed(rules, pod("predictor"), pod("registry"), 8000)
