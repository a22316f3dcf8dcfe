"""Exact copies of training rows (same features and label, e.g. rows uploaded again) never
reach the holdout: a holdout of copies had scored 1.000 and proved nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from driftloop_contracts.datasets import LabelledRow
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import TrainingConfig, split_indices, train

SCHEMA = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rows(n: int) -> list[LabelledRow]:
    drawn = CreditScenario(5).draw(n, "before")
    return [
        LabelledRow(f, y, T0 + timedelta(minutes=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]


def uploaded_again(original: list[LabelledRow], later: timedelta) -> list[LabelledRow]:
    """The same rows, observed again after the originals (a re-upload)."""
    return [LabelledRow(r.features, r.label, r.observed_at + later) for r in original]


def key(row: LabelledRow) -> bytes:
    return orjson.dumps(row.features, option=orjson.OPT_SORT_KEYS) + row.label.encode()


def test_rows_uploaded_again_never_reach_the_holdout() -> None:
    original = rows(300)
    everything = original + uploaded_again(original[:100], timedelta(days=1))
    model = train(SCHEMA, everything, TrainingConfig(family="logistic"))
    start = min(r.observed_at for r in model.holdout)
    before = {key(r) for r in everything if r.observed_at < start}
    assert model.holdout and not {key(r) for r in model.holdout} & before
    assert model.metrics.accuracy < 1.0


def test_copies_are_dropped_before_the_split_keeping_the_first_observed() -> None:
    original = rows(50)
    everything = [*original, *uploaded_again(original[:10], timedelta(days=1))]
    fit, holdout = split_indices(everything, 0.2)
    assert sorted(fit + holdout) == list(range(50))  # the copies (50..59) are gone
    assert set(holdout) == set(range(40, 50))


def test_rows_that_differ_in_the_label_only_are_both_kept() -> None:
    original = rows(20)
    flipped = [
        LabelledRow(r.features, "yes" if r.label == "no" else "no", r.observed_at) for r in original
    ]
    fit, holdout = split_indices([*original, *flipped], 0.25)
    assert len(fit) + len(holdout) == 40
