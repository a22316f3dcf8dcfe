"""A small evaluator of Kubernetes NetworkPolicies, enough to ask "may A reach B on port P?"
of the rendered manifests without a cluster (the semantics of networking.k8s.io/v1: a pod
selected by no policy of a direction is open in that direction; once selected, only what some
rule allows passes; a connection needs the source's egress AND the destination's ingress)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Policy = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    """A pod (namespace and labels), or a client outside the cluster (namespace None)."""

    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)


OUTSIDE = Pod(namespace=None)


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _peer_matches(peer: dict[str, Any], pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return pod.namespace is None  # the policies here use ipBlock for outside clients only
    if pod.namespace is None:
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], pod.namespace_labels)
    else:
        in_namespace = pod.namespace == policy_namespace
    pod_ok = selects(peer.get("podSelector", {}), pod.labels)
    return in_namespace and pod_ok


def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _direction_allows(
    policies: list[Policy], direction: str, subject: Pod, peer: Pod, port: int, protocol: str
) -> bool:
    peers_key = "to" if direction == "Egress" else "from"
    governing = [
        p
        for p in policies
        if subject.namespace == p["metadata"].get("namespace", "default")
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not governing:
        return True
    for policy in governing:
        namespace = policy["metadata"].get("namespace", "default")
        for rule in policy["spec"].get(direction.lower(), []):
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(x, peer, namespace) for x in peers)
            if peer_ok and _port_matches(rule, port, protocol):
                return True
    return False


def allowed(policies: list[Policy], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    """May `src` open a connection to `dst` on `port`?"""
    egress = src.namespace is None or _direction_allows(
        policies, "Egress", src, dst, port, protocol
    )
    ingress = dst.namespace is None or _direction_allows(
        policies, "Ingress", dst, src, port, protocol
    )
    return egress and ingress
