"""Which decisions the predictor acts on: those the registry signed, filed under the dataset
they are about, and newer than the last it acted on for that dataset (per kind: promotions
and rollouts travel on two streams, so only each stream's own order is known).

Anything else (unsigned, forged, another deployment's key, an old decision published again)
is refused with a metric and a warning, and the dataset keeps serving what it had.
"""

from __future__ import annotations

from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_core.signing import Verifier, check_decision, refuse

Decision = ModelPromoted | RolloutChanged


def kind_of(event: Decision) -> str:
    return "promotion" if isinstance(event, ModelPromoted) else "rollout"


class Trust:
    def __init__(self, registry: Verifier) -> None:
        self.registry = registry
        #: The sequence of the last decision acted on, per (kind, dataset).
        self.last: dict[tuple[str, str], int] = {}

    def admit(self, event: Decision, filed_under: str | None = None) -> bool:
        """True (and remembered) if `event` may be acted on; else refused, counted, logged.
        `filed_under`: the dataset the serving state kept it under, when read from there."""
        kind = kind_of(event)
        after = self.last.get((kind, event.dataset), 0)
        refusal = check_decision(event, self.registry, dataset=filed_under, after=after)
        if refusal is not None:
            refuse(kind, refusal, event, "serving what we had")
            return False
        assert event.sequence is not None  # check_decision refuses a decision without one
        self.last[(kind, event.dataset)] = event.sequence
        return True
