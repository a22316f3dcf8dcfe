"""What ingest decides, as pure functions over what the adapter loaded: no Redis, no store.

* Records: one dataset version per dataset per delivery, one rejection per event with bad rows.
* Joined pairs: their join state is forgotten; every pair is announced in a prediction.labelled
  event per (dataset, model version, role). Answered pairs (primary, canary) are gathered in
  the join state; when a delivery takes the gathered rows they become one feedback training
  version per dataset, with the features of their prediction.logged entries. Shadow pairs
  never become training rows: the shadow model's answer was never given.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from driftloop_contracts import Event, FeatureRow, RecordsSubmitted, RejectedRow, Role
from driftloop_core import NotFound

from .candidates import Candidates, rejected_row
from .entries import LoggedEntry
from .join import Gathered, Joined, Pair
from .service import Schemas
from .validation import DEFAULT_WINDOW, TimeWindow, ValidRows, validate


@dataclass(frozen=True)
class StoreVersion:
    """Write the rows as one dataset version, then announce it (data.ingested)."""

    rows: ValidRows
    source: Literal["records", "feedback"]
    cause: Event


@dataclass(frozen=True)
class Reject:
    """Announce rows that failed validation, each with its reason (data.rejected)."""

    dataset: str
    source: str
    rows: tuple[RejectedRow, ...]
    cause: Event


@dataclass(frozen=True)
class AnnounceLabelled:
    """Publish predictions of one model version and role with their labels."""

    dataset: str
    model_version: int
    role: Role
    pairs: tuple[Pair, ...]
    numeric: bool = False  # a regression dataset: labels go out as numbers


@dataclass(frozen=True)
class Forget:
    """Delete what is left of the join state of the pairs and rows (the claims of the events
    that claimed them; their sides went when they were claimed), in the commit."""

    claimed: tuple[Pair | Gathered, ...]


@dataclass(frozen=True)
class SkipTrainingRows:
    """Joined answers that give no training row, and why (counted once committed)."""

    reason: Literal["entry_trimmed", "unknown_dataset"]
    rows: int


Effect = StoreVersion | Reject | AnnounceLabelled | Forget | SkipTrainingRows


def decide_records(
    schemas: Schemas,
    events: Sequence[RecordsSubmitted],
    now: datetime,
    window: TimeWindow = DEFAULT_WINDOW,
) -> list[Effect]:
    by_dataset: dict[str, list[RecordsSubmitted]] = defaultdict(list)
    for event in events:
        by_dataset[event.dataset].append(event)
    effects: list[Effect] = []
    for dataset, group in by_dataset.items():
        effects += _records_of(schemas, dataset, group, now, window)
    return effects


def _records_of(
    schemas: Schemas,
    dataset: str,
    group: list[RecordsSubmitted],
    now: datetime,
    window: TimeWindow,
) -> list[Effect]:
    try:
        schema = schemas.get(dataset)
    except NotFound as exc:
        return [
            Reject(dataset, "stream", _all_rejected(event, exc.message), event) for event in group
        ]
    effects: list[Effect] = []
    parts: list[ValidRows] = []
    for event in group:
        valid, bad = validate(schema, Candidates.of_records(event.records), now, window)
        parts.append(valid)
        if bad:
            effects.append(Reject(dataset, "stream", tuple(bad), event))
    rows = parts[0] if len(parts) == 1 else ValidRows.concat(schema, parts)
    if len(rows):
        effects.append(StoreVersion(rows, "records", group[0]))
    return effects


def _all_rejected(event: RecordsSubmitted, reason: str) -> tuple[RejectedRow, ...]:
    return tuple(rejected_row(i, r.features, r.label, reason) for i, r in enumerate(event.records))


def decide_joined(
    schemas: Schemas,
    joined: Joined,
    entries: Mapping[str, LoggedEntry | None],
    now: datetime,
) -> list[Effect]:
    """`entries`: the prediction.logged entries of the gathered rows (None: trimmed)."""
    pairs = joined.pairs
    if not pairs and not joined.rows:
        return []
    effects: list[Effect] = [Forget((*pairs, *joined.rows))]
    effects += _announcements(schemas, pairs)
    by_dataset: dict[str, list[Gathered]] = defaultdict(list)
    for row in joined.rows:
        by_dataset[row.prediction.dataset].append(row)
    for dataset, answered in by_dataset.items():
        effects += _training_rows(schemas, dataset, answered, entries, now)
    return effects


def _announcements(schemas: Schemas, pairs: Sequence[Pair]) -> list[Effect]:
    """One announcement per (dataset, model version, role). For a regression dataset the
    labels go out as numbers: a pair whose label is not a finite number is not announced
    (nothing to compare the prediction with; its training row is rejected with the reason)."""
    groups: dict[tuple[str, int, Role], list[Pair]] = defaultdict(list)
    for pair in pairs:
        p = pair.prediction
        groups[(p.dataset, p.model_version, p.role)].append(pair)
    effects: list[Effect] = []
    for (dataset, version, role), group in groups.items():
        numeric = _is_regression(schemas, dataset)
        kept = [p for p in group if _numeric_label(p.label.label)] if numeric else group
        if kept:
            effects.append(AnnounceLabelled(dataset, version, role, tuple(kept), numeric))
    return effects


def _is_regression(schemas: Schemas, dataset: str) -> bool:
    try:
        return schemas.get(dataset).target.is_regression
    except NotFound:
        return False


def _numeric_label(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _training_rows(
    schemas: Schemas,
    dataset: str,
    answered: list[Gathered],
    entries: Mapping[str, LoggedEntry | None],
    now: datetime,
) -> list[Effect]:
    try:
        schema = schemas.get(dataset)
    except NotFound:  # predictions of a dataset this ingest does not manage
        return [SkipTrainingRows("unknown_dataset", len(answered))]
    found = [(pair, _features(pair, entries)) for pair in answered]
    rows = [(pair, features) for pair, features in found if features is not None]
    effects: list[Effect] = []
    if len(rows) < len(answered):
        effects.append(SkipTrainingRows("entry_trimmed", len(answered) - len(rows)))
    if not rows:
        return effects
    candidates = Candidates(
        [features for _, features in rows],
        [pair.label.label for pair, _ in rows],
        [datetime.fromtimestamp(pair.prediction.predicted_at_ms / 1000, UTC) for pair, _ in rows],
    )
    valid, bad = validate(schema, candidates, now)
    cause = rows[0][0].cause
    if bad:
        effects.append(Reject(dataset, "feedback", tuple(bad), cause))
    if len(valid):
        effects.append(StoreVersion(valid, "feedback", cause))
    return effects


def _features(pair: Gathered, entries: Mapping[str, LoggedEntry | None]) -> FeatureRow | None:
    entry = entries.get(pair.prediction.entry_id)
    return entry.row(pair.prediction.row) if entry is not None else None
