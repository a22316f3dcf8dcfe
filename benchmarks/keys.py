"""Signing keys for a benchmark's services: one pair in this process's environment (inherited
by the services it starts in process or as children), as the tests do; and promotions sealed
as the registry seals them."""

from __future__ import annotations

import itertools
import os
from typing import TypeVar

from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_core.signing import Signer, generate

D = TypeVar("D", bound=ModelPromoted | RolloutChanged)
_sequence = itertools.count(1)


def signer() -> Signer:
    """This run's signing key (generated the first time, unless set in the environment)."""
    if not os.environ.get("DRIFTLOOP_SIGNING_KEY"):
        private, public = generate()
        os.environ["DRIFTLOOP_SIGNING_KEY"] = private
        os.environ["DRIFTLOOP_TRAINER_PUBLIC_KEY"] = public
        os.environ["DRIFTLOOP_REGISTRY_PUBLIC_KEY"] = public
    return Signer.from_base64(os.environ["DRIFTLOOP_SIGNING_KEY"])


def sealed(event: D) -> D:
    """Numbered (growing in this run) and signed, as the registry publishes decisions."""
    return signer().sign(event.model_copy(update={"sequence": next(_sequence)}))
