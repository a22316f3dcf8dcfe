"""The Prometheus Operator's PrometheusRule for driftloop, from deploy/prometheus/alerts.yml
(the one source of the alert rules; tests/deploy keeps the copy equal):

    python deploy/k8s/prometheusrule.py > deploy/k8s/components/monitoring/prometheusrule.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ALERTS = Path(__file__).resolve().parents[1] / "prometheus" / "alerts.yml"
HEADER = (
    "# GENERATED from deploy/prometheus/alerts.yml by deploy/k8s/prometheusrule.py: edit the\n"
    "# rules there and regenerate (tests/deploy checks the two are equal).\n"
)


def _block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def prometheus_rule(alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "driftloop",
            # the label a Prometheus's ruleSelector usually matches (kube-prometheus-stack:
            # `release: <its release>`; set yours in an overlay)
            "labels": {"app.kubernetes.io/name": "driftloop", "role": "alert-rules"},
        },
        "spec": {"groups": alerts["groups"]},
    }


def render() -> str:
    dumper = type("Dumper", (yaml.SafeDumper,), {})
    dumper.add_representer(str, _block_strings)
    rule = prometheus_rule(yaml.safe_load(ALERTS.read_text()))
    return HEADER + yaml.dump(rule, Dumper=dumper, sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render())
