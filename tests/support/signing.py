"""Signing events as the trainer and the registry would, with the session's keys (set in
tests/conftest.py), for tests that stand in for them."""

from __future__ import annotations

import itertools
import os
from typing import TypeVar

from driftloop_contracts import ModelPromoted, RolloutChanged, TrainingCompleted
from driftloop_core.signing import Signer, Verifier

E = TypeVar("E", bound=ModelPromoted | RolloutChanged | TrainingCompleted)
D = TypeVar("D", bound=ModelPromoted | RolloutChanged)

#: Decisions made in memory are numbered from here, above any a test's registry reaches.
_sequence = itertools.count(1_000)


def signer() -> Signer:
    return Signer.from_base64(os.environ["DRIFTLOOP_SIGNING_KEY"])


def verifier(who: str = "registry") -> Verifier:
    return signer().verifier(who)


def signed(event: E) -> E:
    """`event` signed with the session key (the trainer's and the registry's in tests)."""
    return signer().sign(event)


def sealed(event: D, sequence: int | None = None) -> D:
    """A decision as the registry publishes it: numbered (the next of this session unless
    given) and signed."""
    number = sequence if sequence is not None else next(_sequence)
    return signed(event.model_copy(update={"sequence": number}))
