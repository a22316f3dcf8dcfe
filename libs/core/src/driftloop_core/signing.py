"""Ed25519 signatures on the events that decide what code runs and what serves.

Writing to Redis must not be enough to change what a predictor serves or what the registry
loads: the trainer signs each `training.completed` (its artifact, profile and holdout with
their sha256, metrics, schema) and the registry signs each `model.promoted` and
`model.rollout`; whoever loads or acts on one verifies it first (`check_decision`).

What is signed is the event's canonical JSON: every field but `signature`, as pydantic dumps
it in JSON mode, written by orjson with sorted keys. The signature goes in the event's
`signature` field (base64 of the 64 raw bytes). Keys are per deployment: base64 of the raw
32-byte keys, given inline or as a file (`driftloop keys generate DIR` writes them).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from driftloop_bus.secrets import check_secret
from driftloop_bus.settings import env
from prometheus_client import Counter
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .telemetry import get_logger

SIGNATURE_FIELD = "signature"
HOW = "`driftloop keys generate DIR` writes a deployment's keys"
REFUSED_DECISIONS = Counter(
    "driftloop_refused_decisions_total",
    "Signed decisions refused before anything was loaded or changed, by kind (training, "
    "promotion, rollout) and reason (unsigned, bad_signature, wrong_dataset, wrong_version, "
    "replay).",
    ["kind", "reason"],
)
log = get_logger(__name__)


#: An event with a `signature` field (training.completed, model.promoted, model.rollout).
S = TypeVar("S", bound=BaseModel)


class SigningKeyError(ValueError):
    """A key setting is missing or is not a key; the message names the variable."""


def canonical_bytes(event: BaseModel) -> bytes:
    """What is signed: the event's JSON without its signature, keys sorted at every level."""
    data = event.model_dump(mode="json", exclude={SIGNATURE_FIELD})
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def generate() -> tuple[str, str]:
    """A new key pair: base64 of the raw private key, base64 of the raw public key."""
    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes_raw()), Signer(key).public_base64


class Signer:
    """Signs events with one private key (the trainer's, or the registry's)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def from_base64(cls, value: str, name: str = "DRIFTLOOP_SIGNING_KEY") -> Signer:
        check_secret(name, value)
        raw = _raw_key(value, name, "private")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def sign(self, event: S) -> S:
        """`event` with its signature (any previous signature replaced)."""
        unsigned = event.model_copy(update={SIGNATURE_FIELD: None})
        signature = self._key.sign(canonical_bytes(unsigned))
        return unsigned.model_copy(update={SIGNATURE_FIELD: _b64(signature)})

    @property
    def public_base64(self) -> str:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return _b64(raw)

    def verifier(self, signer_name: str) -> Verifier:
        """The verifier of this key's own signatures (the registry reading back its own)."""
        return Verifier(self._key.public_key(), signer_name)


class Verifier:
    """Checks that an event was signed by one party (`signer_name`: trainer, registry)."""

    def __init__(self, key: Ed25519PublicKey, signer_name: str) -> None:
        self._key = key
        self.signer_name = signer_name

    @classmethod
    def from_base64(cls, value: str, name: str, signer_name: str) -> Verifier:
        raw = _raw_key(value, name, "public")
        return cls(Ed25519PublicKey.from_public_bytes(raw), signer_name)

    def refusal(self, event: BaseModel) -> Refusal | None:
        """None if `event` carries a valid signature of this party; else why not."""
        signature_b64 = getattr(event, SIGNATURE_FIELD, None)
        if not signature_b64:
            return Refusal("unsigned", f"it carries no signature of the {self.signer_name}")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            self._key.verify(signature, canonical_bytes(event))
        except (binascii.Error, ValueError, InvalidSignature):
            return Refusal(
                "bad_signature",
                f"its signature is not the {self.signer_name}'s (forged, altered after "
                "signing, or signed with another deployment's key)",
            )
        return None


@dataclass(frozen=True)
class Refusal:
    """Why a decision is not acted on: a metric label and a sentence for the log."""

    reason: str
    message: str


def check_decision(
    event: Any,
    verifier: Verifier,
    *,
    dataset: str | None = None,
    version: int | None = None,
    after: int | None = None,
) -> Refusal | None:
    """Pure: may this signed decision be acted on? Its signature first; then, when given, that
    it is about `dataset` and `version` (where it was looked up under) and that its `sequence`
    is above `after` (the last one acted on for its dataset: anything else is a replay)."""
    if (refused := verifier.refusal(event)) is not None:
        return refused
    if dataset is not None and event.dataset != dataset:
        return Refusal(
            "wrong_dataset",
            f"it was signed for dataset {event.dataset!r} but stands for {dataset!r}",
        )
    if version is not None and event.model_version != version:
        return Refusal(
            "wrong_version",
            f"it was signed for version {event.model_version} but stands for {version}",
        )
    sequence = getattr(event, "sequence", None)
    if after is not None and (sequence is None or sequence <= after):
        return Refusal(
            "replay",
            f"its sequence {sequence} is not above {after}, the last acted on for "
            f"{event.dataset!r} (an old decision published again)",
        )
    return None


def refuse(kind: str, refusal: Refusal, event: Any, what: str) -> None:
    """Count and log a refused decision: a warning that says why and what happens instead."""
    REFUSED_DECISIONS.labels(kind=kind, reason=refusal.reason).inc()
    log.warning(
        f"{kind} refused: {refusal.message}; {what}",
        reason=refusal.reason,
        dataset=getattr(event, "dataset", None),
        version=getattr(event, "model_version", None),
        sequence=getattr(event, "sequence", None),
        event_id=str(getattr(event, "event_id", "")),
        producer=getattr(event, "producer", None),
    )


# ----------------------------------------------------------------------------- settings


class KeySettings(BaseSettings):
    """The signing keys of a deployment. A service asks only for those it needs, and refuses
    to start without them (see `signer`, `trainer_verifier`, `registry_verifier`)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    signing_key: SecretStr | None = Field(
        default=None,
        validation_alias=env("DRIFTLOOP_SIGNING_KEY"),
        description="Base64 of the raw 32-byte Ed25519 private key this process signs with: "
        "the trainer's (artifacts) or the registry's (promotions and rollouts).",
    )
    signing_key_file: Path | None = Field(
        default=None,
        validation_alias=env("DRIFTLOOP_SIGNING_KEY_FILE"),
        description="A file holding DRIFTLOOP_SIGNING_KEY (keep it 0600).",
    )
    trainer_public_key: str | None = Field(
        default=None,
        validation_alias=env("DRIFTLOOP_TRAINER_PUBLIC_KEY"),
        description="Base64 of the trainer's raw 32-byte Ed25519 public key (the registry "
        "verifies training.completed with it).",
    )
    trainer_public_key_file: Path | None = Field(
        default=None, validation_alias=env("DRIFTLOOP_TRAINER_PUBLIC_KEY_FILE")
    )
    registry_public_key: str | None = Field(
        default=None,
        validation_alias=env("DRIFTLOOP_REGISTRY_PUBLIC_KEY"),
        description="Base64 of the registry's raw 32-byte Ed25519 public key (predictors and "
        "the drift monitor verify promotions and rollouts with it).",
    )
    registry_public_key_file: Path | None = Field(
        default=None, validation_alias=env("DRIFTLOOP_REGISTRY_PUBLIC_KEY_FILE")
    )

    def signer(self, purpose: str) -> Signer:
        """The private key, or SigningKeyError naming the variable to set."""
        secret = self.signing_key.get_secret_value() if self.signing_key else None
        value = _setting(secret, self.signing_key_file, "DRIFTLOOP_SIGNING_KEY", purpose)
        return Signer.from_base64(value, _name("DRIFTLOOP_SIGNING_KEY", self.signing_key_file))

    def trainer_verifier(self, purpose: str) -> Verifier:
        return self._verifier(
            self.trainer_public_key, self.trainer_public_key_file, "TRAINER", purpose
        )

    def registry_verifier(self, purpose: str) -> Verifier:
        return self._verifier(
            self.registry_public_key, self.registry_public_key_file, "REGISTRY", purpose
        )

    def _verifier(self, value: str | None, file: Path | None, who: str, purpose: str) -> Verifier:
        name = f"DRIFTLOOP_{who}_PUBLIC_KEY"
        found = _setting(value, file, name, purpose)
        return Verifier.from_base64(found, _name(name, file), who.lower())


def _setting(value: str | None, file: Path | None, name: str, purpose: str) -> str:
    if value and file:
        raise SigningKeyError(f"set {name} or {name}_FILE, not both")
    if file is not None:
        try:
            return file.read_text().strip()
        except OSError as exc:
            raise SigningKeyError(f"{name}_FILE={file} cannot be read: {exc}") from exc
    if not value:
        raise SigningKeyError(f"{name} (or {name}_FILE) is required: {purpose} ({HOW})")
    return value.strip()


def _name(name: str, file: Path | None) -> str:
    return f"{name}_FILE ({file})" if file is not None else name


def _raw_key(value: str, name: str, kind: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningKeyError(f"{name} is not base64 ({exc}); {HOW}") from exc
    if len(raw) != 32:
        raise SigningKeyError(
            f"{name} must be base64 of a raw 32-byte Ed25519 {kind} key, got {len(raw)} bytes; "
            f"{HOW}"
        )
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
