"""Signed decisions: what the trainer and the registry sign, and why a verifier refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from driftloop_contracts import ModelPromoted, streams
from driftloop_contracts.codec import decode, encode
from driftloop_core.signing import (
    KeySettings,
    Signer,
    SigningKeyError,
    canonical_bytes,
    check_decision,
    generate,
)
from driftloop_sdk.scenario import SCHEMA

from tests.support.events import blob, completed


def keys() -> tuple[Signer, Signer]:
    """Two deployments' registry keys: ours and someone else's."""
    return Signer.from_base64(generate()[0]), Signer.from_base64(generate()[0])


def promotion(dataset: str = "demo", version: int = 1, sequence: int = 1) -> ModelPromoted:
    return ModelPromoted(
        producer="registry",
        dataset=dataset,
        model_version=version,
        previous_version=None,
        reason="gate",
        artifact=blob("models", f"{dataset}-{version}"),
        profile=blob("profiles", f"{dataset}-{version}"),
        metrics=completed().metrics,
        dataset_schema=SCHEMA,
        sequence=sequence,
    )


def test_a_signed_promotion_verifies_with_the_registry_public_key() -> None:
    ours, _ = keys()
    assert check_decision(ours.sign(promotion()), ours.verifier("registry")) is None


def test_the_signature_survives_the_wire_and_the_serving_state() -> None:
    ours, _ = keys()
    event = ours.sign(promotion())
    on_the_wire = decode(encode(event), streams.MODEL_PROMOTED)
    in_the_state = ModelPromoted.model_validate_json(event.model_dump_json())
    assert check_decision(on_the_wire, ours.verifier("registry")) is None
    assert check_decision(in_the_state, ours.verifier("registry")) is None


def test_an_unsigned_promotion_is_refused_as_unsigned() -> None:
    ours, _ = keys()
    refusal = check_decision(promotion(), ours.verifier("registry"))
    assert refusal is not None and refusal.reason == "unsigned"
    assert "no signature of the registry" in refusal.message


def test_a_promotion_signed_with_another_key_is_refused() -> None:
    ours, theirs = keys()
    refusal = check_decision(theirs.sign(promotion()), ours.verifier("registry"))
    assert refusal is not None and refusal.reason == "bad_signature"


@pytest.mark.parametrize(
    "change",
    [
        {"dataset": "other"},
        {"model_version": 7},
        {"sequence": 99},
        {"artifact": blob("models", "a pickle that runs os.system")},
    ],
)
def test_any_field_changed_after_signing_breaks_the_signature(change: dict[str, object]) -> None:
    ours, _ = keys()
    altered = ours.sign(promotion()).model_copy(update=change)
    refusal = check_decision(altered, ours.verifier("registry"))
    assert refusal is not None and refusal.reason == "bad_signature"


def test_a_training_run_is_signed_over_its_artifact_and_metrics() -> None:
    ours, _ = keys()
    run = ours.sign(completed())
    assert check_decision(run, ours.verifier("trainer")) is None
    swapped = run.model_copy(update={"artifact": blob("models", "something else")})
    refusal = check_decision(swapped, ours.verifier("trainer"))
    assert refusal is not None and refusal.reason == "bad_signature"


def test_the_canonical_bytes_leave_the_signature_out_and_sort_keys() -> None:
    ours, _ = keys()
    event = promotion()
    assert canonical_bytes(event) == canonical_bytes(ours.sign(event))
    assert canonical_bytes(event).startswith(b'{"actor":"registry","artifact":{"key"')


def test_a_decision_filed_under_another_dataset_or_version_is_refused() -> None:
    ours, _ = keys()
    event = ours.sign(promotion("credit", 3))
    verifier = ours.verifier("registry")
    wrong_dataset = check_decision(event, verifier, dataset="churn")
    wrong_version = check_decision(event, verifier, dataset="credit", version=2)
    assert wrong_dataset is not None and wrong_dataset.reason == "wrong_dataset"
    assert wrong_version is not None and wrong_version.reason == "wrong_version"


def test_a_decision_not_above_the_last_acted_on_is_a_replay() -> None:
    ours, _ = keys()
    verifier = ours.verifier("registry")
    old = ours.sign(promotion(sequence=4))
    assert check_decision(old, verifier, after=3) is None
    for last in (4, 5):
        refusal = check_decision(old, verifier, after=last)
        assert refusal is not None and refusal.reason == "replay"
    unnumbered = ours.sign(promotion().model_copy(update={"sequence": None}))
    refusal = check_decision(unnumbered, verifier, after=0)
    assert refusal is not None and refusal.reason == "replay"


# ----------------------------------------------------------------------------- settings


def settings(**values: object) -> KeySettings:
    empty = {
        "signing_key": None,
        "signing_key_file": None,
        "trainer_public_key": None,
        "trainer_public_key_file": None,
        "registry_public_key": None,
        "registry_public_key_file": None,
    }
    return KeySettings(**{**empty, **values})  # type: ignore[arg-type]


def test_a_service_without_its_key_is_told_which_variable_to_set() -> None:
    needed = r"DRIFTLOOP_SIGNING_KEY \(or DRIFTLOOP_SIGNING_KEY_FILE\) is required"
    with pytest.raises(SigningKeyError, match=needed):
        settings().signer("the trainer signs its artifacts")
    with pytest.raises(SigningKeyError, match="DRIFTLOOP_REGISTRY_PUBLIC_KEY"):
        settings().registry_verifier("the predictor verifies promotions")


def test_a_malformed_key_says_what_a_key_is() -> None:
    with pytest.raises(SigningKeyError, match="not base64"):
        settings(trainer_public_key="ab/cd+ef==!").trainer_verifier("x")
    with pytest.raises(SigningKeyError, match=r"raw 32-byte Ed25519 public key, got 12 bytes"):
        settings(trainer_public_key="YWJjZGVmZ2hpamts").trainer_verifier("x")


def test_a_placeholder_private_key_is_refused_by_the_one_secret_rule() -> None:
    placeholder = "replace-with-a-real-secret-of-16+-characters"
    with pytest.raises(ValueError, match="DRIFTLOOP_SIGNING_KEY must be a real secret"):
        settings(signing_key=placeholder).signer("x")


def test_keys_are_read_from_files_but_not_from_both_places(tmp_path: Path) -> None:
    private, public = generate()
    (tmp_path / "registry.key").write_text(private + "\n")
    (tmp_path / "registry.pub").write_text(public + "\n")
    signer = settings(signing_key_file=tmp_path / "registry.key").signer("x")
    verifier = settings(registry_public_key_file=tmp_path / "registry.pub").registry_verifier("x")
    assert check_decision(signer.sign(promotion()), verifier) is None
    with pytest.raises(SigningKeyError, match="not both"):
        settings(signing_key=private, signing_key_file=tmp_path / "registry.key").signer("x")
