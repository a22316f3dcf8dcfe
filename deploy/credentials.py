"""Every secret a driftloop deployment needs, generated once: Redis passwords, signing keys, token.

    python deploy/credentials.py compose-env deploy/compose/.env   # `make compose-env`
    python deploy/credentials.py k8s-secrets > secrets.yaml         # then kubectl apply -n ...

One Redis password per ACL user (the five services, `client` for SDK publishers, `admin` for
the CLI's maintenance), an Ed25519 key pair for the trainer (it signs artifacts) and one for the
registry (it signs promotions and rollouts), as base64 of the raw 32-byte keys, and the
registry's admin token. The env file is written 0600 and never overwritten (keys that change
under a running stack orphan every signature); pass --force to start over.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

#: The Redis ACL users (driftloop_bus.acl); each has its own password.
REDIS_USERS = (
    "ingest",
    "trainer",
    "registry",
    "predictor",
    "drift-monitor",
    "client",
    "admin",
    "console",
    "console-admin",
    "exporter",
)
#: The processes that sign, each with its own key pair.
SIGNERS = ("trainer", "registry")


def password_variable(user: str) -> str:
    """`drift-monitor` -> DRIFTLOOP_REDIS_PASSWORD_DRIFT_MONITOR (the ACL template's names)."""
    return "DRIFTLOOP_REDIS_PASSWORD_" + user.upper().replace("-", "_")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class KeyPair:
    private: str
    public: str

    @classmethod
    def generate(cls) -> KeyPair:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(private=b64(private), public=b64(public))


def generate() -> dict[str, str]:
    """Fresh values for every variable docker-compose.yml reads from the env file."""
    token = secrets.token_urlsafe(32)
    values = {"REGISTRY_ADMIN_TOKEN": token}
    # The console checks the operator's token against its hash before replaying dead letters.
    values["CONSOLE_ADMIN_TOKEN_SHA256"] = hashlib.sha256(token.encode()).hexdigest()
    values |= {password_variable(user): secrets.token_urlsafe(32) for user in REDIS_USERS}
    for signer in SIGNERS:
        pair = KeyPair.generate()
        values[f"DRIFTLOOP_{signer.upper()}_SIGNING_KEY"] = pair.private
        values[f"DRIFTLOOP_{signer.upper()}_PUBLIC_KEY"] = pair.public
    return values


def write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (0600 whatever the umask), then fill it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def compose_env(path: Path, *, force: bool = False) -> bool:
    """Write the env file unless it exists; True when it wrote one."""
    if path.exists() and not force:
        return False
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# driftloop secrets for docker compose, generated {stamp} by `make compose-env`.",
        "# Private (0600), never committed. Client and admin Redis users: DRIFTLOOP_REDIS_PASSWORD_"
        "CLIENT / _ADMIN.",
        *(f"{name}={value}" for name, value in generate().items()),
    ]
    write_private(path, "\n".join(lines) + "\n")
    return True


def k8s_secret_values(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The Secrets deploy/k8s/base names (name -> key -> value), filled from `values`."""
    found: dict[str, dict[str, str]] = {
        f"driftloop-redis-{user}": {"password": values[password_variable(user)]}
        for user in REDIS_USERS
    }
    found["driftloop-registry-admin-token"] = {"token": values["REGISTRY_ADMIN_TOKEN"]}
    found["driftloop-console-admin-token-hash"] = {"sha256": values["CONSOLE_ADMIN_TOKEN_SHA256"]}
    for signer in SIGNERS:
        private = values[f"DRIFTLOOP_{signer.upper()}_SIGNING_KEY"]
        found[f"driftloop-{signer}-signing-key"] = {"private-key": private}
    found["driftloop-public-keys"] = {
        signer: values[f"DRIFTLOOP_{signer.upper()}_PUBLIC_KEY"] for signer in SIGNERS
    }
    return found


def k8s_secrets() -> str:
    """Real values for every Secret deploy/k8s/base ships with placeholders, as one manifest."""
    docs = []
    for name, data in k8s_secret_values(generate()).items():
        body = "\n".join(f"  {key}: {json.dumps(value)}" for key, value in data.items())
        docs.append(
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\n"
            f"stringData:\n{body}\n"
        )
    return "---\n".join(docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    env = sub.add_parser("compose-env", help="write the env file docker-compose.yml reads")
    env.add_argument("path", type=Path)
    env.add_argument("--force", action="store_true", help="overwrite (new keys, new passwords)")
    sub.add_parser("k8s-secrets", help="print Secrets with real values for deploy/k8s/base")
    args = parser.parse_args(argv)
    if args.command == "k8s-secrets":
        sys.stdout.write(k8s_secrets())
        return 0
    if compose_env(args.path, force=args.force):
        print(f"wrote {args.path} (0600): Redis passwords, signing keys, admin token")
    else:
        print(f"{args.path} exists; kept it (--force, or FORCE=1 with make, starts over)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
