"""When the trainer trains, on which rows, and what it records: pure functions of a snapshot.

Each function takes the dataset's state (state.py) and one event and returns effects
(effects.py). The adapter loads the state, runs `Train`, asks `on_trained` what the outcome
means, and commits the rest atomically with the acknowledgement.

- The first model trains once the dataset has `min_initial_rows` rows and nothing serves it.
  A first model that fails to train or that the registry rejects releases its claim. One the
  registry rejected (too weak) is first retried harder on the same rows (a single family
  gives way to `auto`, `auto` gets `retry_budget_factor` times its budget); after that, and
  after a failed run, the next attempt waits for `initial_backoff` times the rows of the last
  one: never a tight loop.
- A drift (of a kind in `retrain_on`, of a model not yet retrained for) becomes a pending
  retrain that trains on rows observed after the onset once there are `min_post_drift_rows`;
  then `followup_retrains` more runs as those rows double. A failed run is retried on more
  rows, at most `max_retrain_failures` times.
- Pending retrains are stored one per drift; only the highest ranked is worked on (a drift of
  a newer model outranks, a first retrain outranks follow-ups) and the others are dropped.
  Every write to one is a compare-and-set against what the decision read, so a chain that
  finishes after a newer drift arrived changes nothing but its own entry, if still there.
"""

from __future__ import annotations

from dataclasses import replace

from driftloop_contracts import (
    DataIngested,
    DriftDetected,
    Event,
    ModelPromoted,
    ModelRejected,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
    TrainingSkipped,
)

from . import retrains
from .effects import (
    Announce,
    Effect,
    MarkRetrained,
    Outcome,
    RecordArtifact,
    RecordInitialAttempt,
    RecordVersion,
    ReleaseClaim,
    ReplacePending,
    SetChampion,
    Skip,
    Train,
    clear_pending,
    failed_event,
    set_pending,
)
from .state import (
    INITIAL,
    ChampionModel,
    DatasetState,
    InitialAttempts,
    Pending,
    PendingRetrain,
    Rules,
    VersionEntry,
)

# ------------------------------------------------------------------------------ events


def on_data(state: DatasetState, event: DataIngested, rules: Rules) -> list[Effect]:
    """Record the version; train if it completes what a first model or a retrain waits for."""
    entry = VersionEntry.of(event)
    recorded = RecordVersion(event.dataset, entry, event.dataset_schema)
    return [recorded, *next_run(state, event, rules, include=(entry,))]


def on_drift(state: DatasetState, event: DriftDetected, rules: Rules) -> list[Effect]:
    if event.kind not in rules.retrain_on:
        return [Skip(f"{event.kind} drift is not retrained on (TRAINER_RETRAIN_ON)")]
    if event.model_version in state.retrained_for:
        return [Skip(f"a drift of model v{event.model_version} already led to a retrain")]
    if any(p.retrain.key == str(event.event_id) for p in state.pending):
        return next_run(state, event, rules)
    retrain = PendingRetrain(
        drift=event,
        min_rows=rules.min_post_drift_rows,
        followups_left=rules.followup_retrains,
    )
    active = select(state.pending)[0]
    if active is not None and active.retrain.rank >= retrain.rank:
        return [Skip(f"a retrain is already pending for drift {active.retrain.key}")]
    state = state.with_pending((*state.pending, Pending.new(retrain)))
    return [set_pending(event.dataset, retrain), *next_run(state, event, rules)]


def on_request(state: DatasetState, event: TrainingRequested, rules: Rules) -> list[Effect]:
    if state.schema is None:
        reason = f"no data ingested for dataset {event.dataset!r} yet"
        return [Announce(failed_event(event, event.dataset, "requested", "requested", reason))]
    train = Train(
        event.dataset,
        "requested",
        state.schema,
        since=event.since,
        cause=event,
        key="requested",
        claimant=str(event.event_id),
        rows=state.rows,
    )
    return [train]


def on_promoted(state: DatasetState, event: ModelPromoted) -> list[Effect]:
    model = ChampionModel(
        version=event.model_version,
        artifact=event.artifact,
        holdout_accuracy=event.metrics.accuracy,
    )
    champion = SetChampion(event.dataset, event.model_version, model)
    return [champion, *retrains.reset_rejections(state, event)]


def on_rejected(state: DatasetState, event: ModelRejected, rules: Rules) -> list[Effect]:
    """A rejected first model frees the dataset for another attempt on more rows; a rejected
    retrain counts against its shift."""
    if state.champion is not None:
        counted = retrains.count_rejection(state, event)
        return counted or [
            Skip(f"model v{state.champion} serves; a rejected candidate changes nothing")
        ]
    if INITIAL not in state.claims or not is_initial_verdict(state.initial, event):
        return [Skip("no first model of this dataset awaits a verdict")]
    last = state.initial or InitialAttempts(attempts=1, status="awaiting verdict", rows=state.rows)
    attempts = last.widened(rejection(event), rules)
    if attempts.retries_now:  # same rows, harder: the claim stays with its holder
        holder = state.claims[INITIAL]
        retry = initial_run(replace(state, initial=attempts), event, holder, rules, ())
        return [RecordInitialAttempt(event.dataset, attempts), *([retry] if retry else [])]
    claims = {k: v for k, v in state.claims.items() if k != INITIAL}
    after = replace(state, claims=claims, initial=attempts)
    return [
        ReleaseClaim(event.dataset, INITIAL),
        RecordInitialAttempt(event.dataset, attempts),
        *next_run(after, event, rules),
    ]


def on_recheck(state: DatasetState, event: Event, rules: Rules) -> list[Effect]:
    """The state changed while an earlier decision was made: decide again on the whole of it."""
    return next_run(state, event, rules)


def rejection(event: ModelRejected) -> str:
    return f"rejected by the registry: {event.reason}"


def is_initial_verdict(initial: InitialAttempts | None, event: ModelRejected) -> bool:
    """Whether a rejection is of the first model awaiting its verdict. Older registries send
    neither run_id nor trigger: then it is, if a first model awaits one."""
    if event.trigger is not None and event.trigger != "initial":
        return False
    if initial is None:  # a claim taken before attempts were recorded
        return True
    if initial.status != "awaiting verdict":
        return False
    return event.run_id is None or initial.run_id in (None, event.run_id)


# ------------------------------------------------------------------------- outcomes


def on_trained(state: DatasetState, train: Train, outcome: Outcome, rules: Rules) -> list[Effect]:
    """What a run's outcome changes; `state` is the snapshot the run was decided on."""
    effects: list[Effect] = [Announce(outcome)]
    if isinstance(outcome, TrainingCompleted):
        effects.append(RecordArtifact(train.dataset, outcome.artifact.sha256))
    if train.trigger == "initial":
        effects += initial_outcome(state, train, outcome, rules)
    elif train.trigger == "drift":
        effects += drift_outcome(train, outcome, rules)
    return effects


def initial_outcome(
    state: DatasetState, train: Train, outcome: Outcome, rules: Rules
) -> list[Effect]:
    assert not isinstance(outcome, TrainingSkipped), "only a drift retrain measures first"
    last = state.initial
    reason = last.reason if last else None
    attempts = InitialAttempts(
        attempts=(last.attempts if last else 0) + 1,
        status="awaiting verdict",
        rows=train.rows,
        run_id=outcome.run_id,
        # why the attempt before did not serve (a retry on a rejection is decided on the
        # state before it, so the rejection itself says why)
        reason=rejection(train.cause) if isinstance(train.cause, ModelRejected) else reason,
        family=train.family,
        budget_s=train.budget_s,
    )
    if isinstance(outcome, TrainingFailed):
        failed = attempts.backed_off("failed", outcome.reason, rules.initial_backoff)
        return [ReleaseClaim(train.dataset, INITIAL), RecordInitialAttempt(train.dataset, failed)]
    return [RecordInitialAttempt(train.dataset, attempts)]


def drift_outcome(train: Train, outcome: Outcome, rules: Rules) -> list[Effect]:
    assert train.pending is not None, "a drift run is a step of a pending retrain"
    read, dataset = train.pending, train.dataset
    retrain = read.retrain
    if isinstance(outcome, TrainingSkipped):  # it cannot pay: the chain ends, nothing retrained
        return [ReplacePending(dataset, retrain.key, read.revision, None)]
    if isinstance(outcome, TrainingFailed):
        if retrain.failures + 1 >= rules.max_retrain_failures:
            return [
                ReplacePending(dataset, retrain.key, read.revision, None),
                Skip(f"gave up on drift {retrain.key} after {retrain.failures + 1} failed runs"),
            ]
        retry = retrain.model_copy(
            update={
                "failures": retrain.failures + 1,
                "min_rows": train.rows + rules.min_post_drift_rows // 2,
            }
        )
        return [
            ReleaseClaim(dataset, retrain.claim),
            ReplacePending(dataset, retrain.key, read.revision, retry),
        ]
    follow: PendingRetrain | None = None
    if retrain.followups_left > 0:
        follow = retrain.model_copy(
            update={
                "followup": retrain.followup + 1,
                "followups_left": retrain.followups_left - 1,
                "min_rows": 2 * train.rows,
                "failures": 0,
                "awaiting": (*retrain.awaiting, outcome.run_id),
            }
        )
    return [
        MarkRetrained(dataset, retrain.drift.model_version),
        ReplacePending(dataset, retrain.key, read.revision, follow),
    ]


# -------------------------------------------------------------------- what to train


def next_run(
    state: DatasetState, cause: Event, rules: Rules, include: tuple[VersionEntry, ...] = ()
) -> list[Effect]:
    """The run the state is ready for, if any: the first model, else the pending retrain."""
    claimant = str(cause.event_id)
    first = initial_run(state, cause, claimant, rules, include)
    if first is not None:
        return [first]
    return drift_run(state, claimant, rules, include)


def initial_run(
    state: DatasetState,
    cause: Event,
    claimant: str,
    rules: Rules,
    include: tuple[VersionEntry, ...],
) -> Train | None:
    if state.champion is not None or state.schema is None:
        return None
    if state.claimed_by_other(INITIAL, claimant):
        return None
    if state.rows < rules.initial_threshold(state.initial):
        return None
    last = state.initial
    return Train(
        state.dataset,
        "initial",
        state.schema,
        since=None,
        cause=cause,
        key="initial",
        claimant=claimant,
        claim=INITIAL,
        rows=state.rows,
        include=include,
        family=last.next_family if last else None,
        budget_s=last.next_budget_s if last else None,
    )


def drift_run(
    state: DatasetState, claimant: str, rules: Rules, include: tuple[VersionEntry, ...]
) -> list[Effect]:
    active, outranked = select(state.pending)
    effects: list[Effect] = [clear_pending(state.dataset, p) for p in outranked]
    if active is None or state.schema is None:
        return effects
    retrain = active.retrain
    have = state.post_onset_rows(retrain.onset)
    if have < retrain.min_rows:
        return [*effects, Skip(f"waiting for post-drift rows: {have} of {retrain.min_rows}")]
    if state.claimed_by_other(retrain.claim, claimant):
        return [*effects, Skip(f"{retrain.claim} is being trained by another event")]
    given_up = retrains.rejected_twice(active, rules, have)
    if given_up is not None:
        return [*effects, *given_up]
    train = Train(
        state.dataset,
        "drift",
        state.schema,
        cause=retrain.drift,
        key=f"retrain/{retrain.followup}/{retrain.failures}",
        claimant=claimant,
        claim=retrain.claim,
        rows=have,
        pending=active,
        include=include,
        **retrains.row_plan(state, retrain, rules),
    )
    return [*effects, train]


def select(pending: tuple[Pending, ...]) -> tuple[Pending | None, list[Pending]]:
    """The pending retrain to work on and the ones it outranks (to drop). Among equals the
    oldest drift wins, so every replica picks the same."""
    if not pending:
        return None, []
    ordered = sorted(
        pending,
        key=lambda p: (
            -p.retrain.drift.model_version,
            p.retrain.followup != 0,
            p.retrain.drift.occurred_at,
            p.retrain.key,
        ),
    )
    return ordered[0], ordered[1:]
