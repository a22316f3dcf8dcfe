"""Each service image holds its package and what that package declares, nothing else (the
Dockerfile installs the third-party packages of `driftloop-<service>` alone, from uv.lock). A
module a service imports but does not declare is there in the workspace's venv and missing from
the image: the service crashes at start in compose and Kubernetes only (the ingest image lacked
numpy); the image build now also imports each service (`entrypoint.py --check`)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deploy.support import PYTHON_SERVICES, ROOT


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(distribution: str) -> set[str]:
    """The distribution and everything it requires, transitively (extras left out)."""
    seen: set[str] = set()
    todo = [distribution]
    while todo:
        name = canonical(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def imported_modules(folder: Path) -> set[str]:
    """Top-level names of the absolute imports in every module under `folder`."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_every_module_a_service_imports_is_in_what_its_image_installs(service: str) -> None:
    source = ROOT / "services" / service / "src"
    providers = packages_distributions()
    installed = closure(f"driftloop-{service}")
    missing = {}
    for module in imported_modules(source) - set(sys.stdlib_module_names) - {"__future__"}:
        distributions = {canonical(d) for d in providers.get(module, [])}
        if distributions and not distributions & installed:
            missing[module] = sorted(distributions)
    assert not missing, f"services/{service}/pyproject.toml must declare {missing}"
