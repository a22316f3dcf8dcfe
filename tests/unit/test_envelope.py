"""The event envelope: ids, time, the causal chain, versions, immutability, extra fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from driftloop_contracts import TrainingFailed, TrainingRequested, derived_id, utcnow
from pydantic import ValidationError


def request(**fields: object) -> TrainingRequested:
    return TrainingRequested.model_validate({"dataset": "demo", "producer": "test", **fields})


def failure_of(cause: TrainingRequested, key: str = "run-1") -> TrainingFailed:
    return TrainingFailed.caused_by(
        cause,
        key=key,
        producer="trainer",
        run_id=uuid.UUID(int=1),
        dataset="demo",
        trigger="requested",
        reason="too few rows",
    )


# ------------------------------------------------------------------------------ defaults


def test_two_events_get_different_ids() -> None:
    assert request().event_id != request().event_id


def test_occurred_at_defaults_to_now_in_utc() -> None:
    before = utcnow()
    event = request()
    after = utcnow()

    assert before <= event.occurred_at <= after
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_an_event_without_a_cause_is_the_root_of_its_own_chain() -> None:
    event = request()

    assert event.correlation_id == event.event_id
    assert event.chain_id == event.event_id
    assert event.causation_id is None


def test_an_explicit_correlation_id_is_kept() -> None:
    chain = uuid.uuid4()

    assert request(correlation_id=chain).correlation_id == chain


def test_an_event_survives_a_json_round_trip_unchanged() -> None:
    event = request(reason="nightly")

    assert TrainingRequested.model_validate_json(event.model_dump_json()) == event


# ----------------------------------------------------------------------------- causation


def test_a_caused_event_joins_its_causes_chain() -> None:
    cause = request()
    effect = failure_of(cause)

    assert effect.correlation_id == cause.correlation_id
    assert effect.causation_id == cause.event_id
    assert effect.producer == "trainer"


def test_the_chain_id_follows_every_link_back_to_the_root() -> None:
    root = request()
    middle = TrainingRequested.caused_by(root, key="retry", producer="scheduler", dataset="demo")
    leaf = failure_of(middle)

    assert leaf.correlation_id == root.event_id
    assert leaf.causation_id == middle.event_id


def test_the_same_cause_and_key_give_the_same_event_id() -> None:
    cause = request()

    assert failure_of(cause, key="run-1").event_id == failure_of(cause, key="run-1").event_id


def test_another_key_gives_another_event_id() -> None:
    cause = request()

    assert failure_of(cause, key="run-1").event_id != failure_of(cause, key="run-2").event_id


def test_another_cause_gives_another_event_id() -> None:
    assert failure_of(request()).event_id != failure_of(request()).event_id


def test_the_derived_id_depends_on_the_event_type() -> None:
    cause = request()
    failed = failure_of(cause, key="k")
    requested = TrainingRequested.caused_by(cause, key="k", producer="p", dataset="demo")

    assert failed.event_id == derived_id(cause.event_id, "training.failed", "k")
    assert requested.event_id != failed.event_id


# ------------------------------------------------------------------------- what is refused


def test_an_unsupported_schema_version_is_refused_with_the_versions_it_reads() -> None:
    with pytest.raises(ValidationError) as caught:
        request(schema_version=2)

    expected = "unsupported schema_version 2 for training.requested (this consumer reads 1)"
    assert expected in str(caught.value)


def test_a_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"occurred_at must carry a timezone \(UTC\)"):
        request(occurred_at=datetime(2024, 1, 1, 12, 0))


def test_a_naive_occurred_at_in_json_is_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at must carry a timezone"):
        request(occurred_at="2024-01-01T12:00:00")


def test_an_occurred_at_with_an_offset_is_accepted_as_the_same_instant() -> None:
    paris = timezone(timedelta(hours=2))
    event = request(occurred_at=datetime(2024, 1, 1, 14, 0, tzinfo=paris))

    assert event.occurred_at == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def test_an_event_cannot_be_changed_after_it_is_made() -> None:
    event = request()

    with pytest.raises(ValidationError, match="frozen"):
        event.dataset = "other"  # type: ignore[misc]


def test_the_event_type_of_a_concrete_event_is_fixed() -> None:
    with pytest.raises(ValidationError, match=r"training\.requested"):
        request(event_type="training.failed")


# ----------------------------------------------------------------- forward compatibility


def test_fields_from_a_later_release_are_ignored() -> None:
    event = request(priority="high", added_later={"nested": True})

    assert event.dataset == "demo"
    assert not hasattr(event, "priority")
    assert "added_later" not in event.model_dump()
