"""Keys for every way the stack runs: `driftloop keys generate`, and `driftloop up`, which
makes them once in its state folder and hands each service only what it needs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from driftloop_core.signing import KeySettings, check_decision
from driftloop_sdk import keys
from driftloop_sdk.runner import Stack

from tests.support.events import completed

EMPTY = {name.lower(): None for name in ("signing_key", "trainer_public_key")}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_private_keys_are_for_their_owner_only(tmp_path: Path) -> None:
    files = keys.generate(tmp_path / "keys")

    assert {mode(files.private(w)) for w in keys.SIGNERS} == {0o600}
    assert {mode(files.public(w)) for w in keys.SIGNERS} == {0o644}


def test_generated_keys_sign_and_verify_as_the_services_read_them(tmp_path: Path) -> None:
    files = keys.generate(tmp_path / "keys")
    trainer = KeySettings(signing_key_file=files.private("trainer"), **EMPTY)
    registry = KeySettings(trainer_public_key_file=files.public("trainer"), **EMPTY)

    run = trainer.signer("x").sign(completed())

    assert check_decision(run, registry.trainer_verifier("x")) is None


def test_keys_are_never_replaced_unless_asked(tmp_path: Path) -> None:
    files = keys.generate(tmp_path / "keys")
    first = files.private("registry").read_text()

    with pytest.raises(FileExistsError, match="unverifiable"):
        keys.generate(tmp_path / "keys")
    assert keys.ensure(tmp_path / "keys").private("registry").read_text() == first
    assert keys.generate(tmp_path / "keys", replace=True).private("registry").read_text() != first


def test_up_makes_its_keys_once_and_gives_each_service_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in keys.ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    stack = Stack(tmp_path / "state", redis_url="redis://127.0.0.1:1/0", sink=None)
    keys.ensure(stack.key_files.directory)  # what start() does

    trainer, registry, predictor = (
        {k: v for k, v in stack._env(s).items() if k.startswith("DRIFTLOOP_") and "KEY" in k}
        for s in ("trainer", "registry", "predictor")
    )

    key_dir = stack.key_files.directory.resolve()
    assert trainer == {"DRIFTLOOP_SIGNING_KEY_FILE": str(key_dir / "trainer.key")}
    assert registry == {
        "DRIFTLOOP_SIGNING_KEY_FILE": str(key_dir / "registry.key"),
        "DRIFTLOOP_TRAINER_PUBLIC_KEY_FILE": str(key_dir / "trainer.pub"),
    }
    assert predictor == {"DRIFTLOOP_REGISTRY_PUBLIC_KEY_FILE": str(key_dir / "registry.pub")}
    assert not any("KEY" in k and k.startswith("DRIFTLOOP_") for k in stack._env("ingest"))


def test_keys_given_to_the_stack_are_passed_on_only_where_needed(tmp_path: Path) -> None:
    # The test session's keys are in the environment (tests/conftest.py).
    stack = Stack(tmp_path / "state", redis_url="redis://127.0.0.1:1/0", sink=None)

    predictor = stack._env("predictor")

    assert "DRIFTLOOP_REGISTRY_PUBLIC_KEY" in predictor
    assert "DRIFTLOOP_SIGNING_KEY" not in predictor
    assert "DRIFTLOOP_SIGNING_KEY" in stack._env("trainer")
    assert not (tmp_path / "state" / "keys").exists()
