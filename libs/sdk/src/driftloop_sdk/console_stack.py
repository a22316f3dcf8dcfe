"""How `driftloop up` starts the web console beside the five services: base port + 6, the
services' URLs, the read-only `console` Redis user (the runner sets it like any service's),
and for dead-letter replay the `console-admin` login and the admin token's SHA-256 (the
console holds no token; the operator enters it in the browser)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from . import redis_users

#: The console listens on the base port + 6 (the services take + 1 .. + 5).
OFFSET = 6
URL_SETTINGS = {
    "ingest": "CONSOLE_INGEST_URL",
    "trainer": "CONSOLE_TRAINER_URL",
    "registry": "CONSOLE_REGISTRY_URL",
    "predictor": "CONSOLE_PREDICTOR_URL",
    "drift-monitor": "CONSOLE_MONITOR_URL",
}


def console_env(
    ports: Mapping[str, int], admin_token: str, state_dir: Path, *, acl: bool
) -> dict[str, str]:
    env = {
        setting: f"http://127.0.0.1:{ports[service]}"
        for service, setting in URL_SETTINGS.items()
        if service in ports
    }
    env["CONSOLE_ADMIN_TOKEN_SHA256"] = hashlib.sha256(admin_token.encode()).hexdigest()
    if acl:
        env["CONSOLE_REPLAY_USERNAME"] = "console-admin"
        password = redis_users.password_file(state_dir, "console-admin").resolve()
        env["CONSOLE_REPLAY_PASSWORD_FILE"] = str(password)
    return env
