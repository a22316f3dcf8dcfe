"""Re-arming the performance kind after the trainer found that the champion holds.

A kind fires once per promotion. When the trainer then measures the champion on the rows
after the drift's onset and finds that a retrain cannot beat it, it skips the retrain
(`training.skipped`, reason champion_holds): the alarm was false, or the drop was one no model
can win back. Left fired, the kind would stay silent for that champion for good, and a real
drift later would go unseen. So the monitor arms it again:

- only for the performance kind: a data or prediction drift that was skipped is a shift that
  stays (the windows are tested against the training profile), so re-armed it would fire
  again within a window, for the same shift; a later change of P(y|x) on the shifted inputs
  is the performance kind's to see, and it is still armed then;
- only for the skip of the event this promotion's kind last fired (its id is derived from the
  promotion, the kind and the re-arm count): a stale, repeated or foreign skip changes nothing;
- with a fresh detector, so the labels that raised the skipped drift are not judged twice,
  against the accuracy the trainer measured for the champion on the post-onset rows when that
  is under the promoted one (the level a retrain could not beat: an irreducible drop does not
  raise the same alarm over and over), else the promoted accuracy;
- the next drift event of the kind gets a new id (its re-arm count is part of it), so the
  trainer takes it as a new drift.

The re-arm is recorded in Redis (`rearmed` marker, fired marker deleted) in the delivery's
commit; every replica's watch picks it up from the snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from driftloop_contracts import DriftKind, TrainingSkipped

from .config import Configs
from .policy import Install, Serving, Snapshot, drift_id, evicted
from .watch import Rearm, Watch, WatchKey, rearmed

#: The kinds a champion_holds skip re-arms.
REARMED_KINDS: frozenset[str] = frozenset({"performance"})


@dataclass(frozen=True)
class Rearmed:
    """Delete the kind's fired marker and record the re-arm: one commit."""

    key: WatchKey
    promotion_id: uuid.UUID
    kind: DriftKind
    rearm: Rearm
    #: The skip that re-armed it, for the log.
    skip: TrainingSkipped


def on_skipped(
    snapshot: Snapshot, skips: Sequence[TrainingSkipped], configs: Configs
) -> list[Rearmed | Install]:
    """The re-arms the skips call for, and the re-armed watches held in memory."""
    effects: list[Rearmed | Install] = []
    installed: dict[WatchKey, Watch] = {}
    for skip in skips:
        key = WatchKey(skip.dataset, skip.model_version)
        serving = snapshot.serving.get(key)
        if not isinstance(serving, Serving) or not rearms(skip):
            continue
        held = installed.get(key) or snapshot.watches.get(key)
        if held is not None and held.promotion.event_id != serving.promotion.event_id:
            held = None  # a watch of an earlier promotion of the version
        count = max(serving.rearm.count, held.rearm.count if held is not None else 0)
        if skip.drift_id != drift_id(serving.promotion.event_id, "performance", count):
            continue  # a skip of an earlier event, or of another promotion
        rearm = Rearm(count + 1, baseline(serving, skip))
        effects.append(Rearmed(key, serving.promotion.event_id, "performance", rearm, skip))
        if held is not None:
            installed[key] = rearmed(held, rearm, configs.of(key.dataset))
    if installed:
        effects.append(Install(installed, evicted(snapshot.watches, installed, configs.limits)))
    return effects


def rearms(skip: TrainingSkipped) -> bool:
    """Whether the skip says the champion holds against a drift of a kind that re-arms."""
    return skip.reason == "champion_holds" and skip.drift_kind in REARMED_KINDS


def baseline(serving: Serving, skip: TrainingSkipped) -> float | None:
    """The trainer's measure of the champion on the post-onset rows, if under the promoted
    accuracy; None (the promoted accuracy) otherwise."""
    measured = skip.champion_post_onset_accuracy
    promoted = serving.promotion.metrics.accuracy
    if measured is None or measured >= promoted:
        return None
    return round(measured, 6)
