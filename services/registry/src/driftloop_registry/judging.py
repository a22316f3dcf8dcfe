"""Judging a candidate: both models evaluated on the candidate's (most recent) holdout, then
the gate (gate.py) decides. Reads the store and runs the models: call it off the event loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftloop_contracts import DatasetSchema, Metrics, ModelPromoted, TrainingCompleted
from driftloop_contracts.datasets import LabelledRow, loads
from driftloop_core import ContentStore, DriftloopError
from driftloop_core.telemetry import get_logger
from driftloop_ml import ArtifactError, absolute_errors, correct, evaluate, load_artifact

from .gate import GateConfig, Paired, PairedErrors, decide
from .repository import DecisionRecord

log = get_logger(__name__)


class Judge:
    def __init__(
        self, store: ContentStore, gate: GateConfig, trusted_modules: Sequence[str] = ()
    ) -> None:
        self.store = store
        self.gate = gate
        #: DRIFTLOOP_TRUSTED_MODULES: types artifacts may hold besides scikit-learn's.
        self.trusted_modules = tuple(trusted_modules)

    def __call__(
        self, candidate: TrainingCompleted, champion: ModelPromoted | None
    ) -> DecisionRecord:
        """The decision on `candidate` against `champion`, the promotion serving now."""
        schema = candidate.dataset_schema
        try:
            holdout = loads(self.store.get(candidate.holdout))
            artifact = load_artifact(self.store.get(candidate.artifact), self.trusted_modules)
            metrics = evaluate(artifact.pipeline, schema, holdout)
        except (DriftloopError, ArtifactError) as exc:
            return _record(False, f"candidate unusable: {exc}", candidate.metrics)
        if champion is None:
            decision = decide(metrics, None, self.gate)
            return _record(decision.promote, decision.reason, metrics)
        theirs_metrics: Metrics | None = None
        paired: Paired | PairedErrors | None = None
        try:
            old = load_artifact(self.store.get(champion.artifact), self.trusted_modules)
            if old.schema.fingerprint() == schema.fingerprint():
                theirs_metrics = evaluate(old.pipeline, schema, holdout)
                paired = _paired(artifact.pipeline, old.pipeline, schema, holdout)
        except (DriftloopError, ArtifactError) as exc:
            log.warning("champion cannot be evaluated; judging on floors only", error=str(exc))
        version = champion.model_version
        decision = decide(metrics, theirs_metrics, self.gate, version, paired)
        return _record(decision.promote, decision.reason, metrics, theirs_metrics, version)


def _paired(
    ours: Any, theirs: Any, schema: DatasetSchema, holdout: Sequence[LabelledRow]
) -> Paired | PairedErrors:
    """Per-row outcomes of both models on the same holdout rows: right or wrong
    (classification, for McNemar), or absolute errors (regression, for Wilcoxon)."""
    if schema.target.is_regression:
        return PairedErrors(
            tuple(absolute_errors(ours, schema, holdout).tolist()),
            tuple(absolute_errors(theirs, schema, holdout).tolist()),
        )
    mine, other = correct(ours, schema, holdout), correct(theirs, schema, holdout)
    return Paired(int((mine & ~other).sum()), int((other & ~mine).sum()))


def _record(
    promote: bool,
    reason: str,
    candidate: Metrics,
    champion: Metrics | None = None,
    champion_version: int | None = None,
) -> DecisionRecord:
    return DecisionRecord(
        promote=promote,
        reason=reason,
        candidate=candidate,
        champion=champion,
        champion_version=champion_version,
    )
