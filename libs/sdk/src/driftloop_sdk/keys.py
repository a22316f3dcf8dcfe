"""A deployment's signing keys as files, and which service gets which.

The trainer signs its artifacts (training.completed) and the registry its promotions and
rollouts with Ed25519 keys; the registry verifies the trainer's signatures, the predictors and
the drift monitor the registry's. Keys are base64 of the raw 32-byte keys, one per file:
``trainer.key``/``trainer.pub`` and ``registry.key``/``registry.pub`` (private keys 0600).
Replacing them makes every decision signed before unverifiable: predictors then refuse the
serving state until the registry promotes again.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIGNERS = ("trainer", "registry")
SIGNING_KEY = "DRIFTLOOP_SIGNING_KEY"
TRAINER_PUBLIC_KEY = "DRIFTLOOP_TRAINER_PUBLIC_KEY"
REGISTRY_PUBLIC_KEY = "DRIFTLOOP_REGISTRY_PUBLIC_KEY"
VARIABLES = (SIGNING_KEY, TRAINER_PUBLIC_KEY, REGISTRY_PUBLIC_KEY)
#: Every variable a service may read its keys from (inline, or a file).
ALL_VARIABLES = tuple(name for v in VARIABLES for name in (v, f"{v}_FILE"))
#: What each service needs, and nothing more.
NEEDS: dict[str, tuple[str, ...]] = {
    "ingest": (),
    "trainer": (SIGNING_KEY,),
    "registry": (SIGNING_KEY, TRAINER_PUBLIC_KEY),
    "predictor": (REGISTRY_PUBLIC_KEY,),
    "drift-monitor": (REGISTRY_PUBLIC_KEY,),
}


@dataclass(frozen=True)
class KeyFiles:
    directory: Path

    def private(self, who: str) -> Path:
        return self.directory / f"{who}.key"

    def public(self, who: str) -> Path:
        return self.directory / f"{who}.pub"

    def exist(self) -> bool:
        return all(self.private(w).exists() and self.public(w).exists() for w in SIGNERS)

    def env(self, service: str) -> dict[str, str]:
        """The variables `service` is started with: only the keys it needs, as files."""
        files = {
            "trainer": {f"{SIGNING_KEY}_FILE": self.private("trainer")},
            "registry": {
                f"{SIGNING_KEY}_FILE": self.private("registry"),
                f"{TRAINER_PUBLIC_KEY}_FILE": self.public("trainer"),
            },
            "predictor": {f"{REGISTRY_PUBLIC_KEY}_FILE": self.public("registry")},
            "drift-monitor": {f"{REGISTRY_PUBLIC_KEY}_FILE": self.public("registry")},
        }.get(service, {})
        return {name: str(path.resolve()) for name, path in files.items()}


def generate(directory: Path, *, replace: bool = False) -> KeyFiles:
    """Write a new key pair for the trainer and one for the registry; refuses to replace
    existing keys unless told to."""
    files = KeyFiles(directory)
    if not replace and any(files.private(w).exists() for w in SIGNERS):
        raise FileExistsError(
            f"{directory} already holds signing keys; replacing them makes every decision "
            "signed so far unverifiable (pass replace=True / --replace to do it anyway)"
        )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for who in SIGNERS:
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        _write(files.private(who), _b64(key.private_bytes_raw()), 0o600)
        _write(files.public(who), _b64(public), 0o644)
    return files


def ensure(directory: Path) -> KeyFiles:
    """The keys in `directory`, generated the first time."""
    files = KeyFiles(directory)
    return files if files.exist() else generate(directory, replace=True)


def given_env(given: Mapping[str, str], service: str) -> dict[str, str]:
    """Of the key variables set in `given` (a deployment's own keys), those `service` needs."""
    needed = NEEDS.get(service, ())
    return {
        name: value
        for name, value in given.items()
        if value and name in ALL_VARIABLES and name.removesuffix("_FILE") in needed
    }


def _write(path: Path, text: str, mode: int) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
