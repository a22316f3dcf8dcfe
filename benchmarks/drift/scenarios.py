"""The drift benchmark's streams: features, concepts (P(y|x)) and how each scenario drifts.

Eight numeric features x0..x7 (standard normal before any shift) and two categorical ones.
A concept maps a row to the logit of y = 1:

- **linear**: a logistic model of the features (what a linear model can learn exactly);
- **threshold**: y = 1 when x0 is over a threshold (10% of labels flipped);
- **interaction**: y = 1 when x0 and x1 have the same sign (a linear model scores ~0.5).

Scenarios drift the inputs (a mean shift, categorical frequencies, the label prior), the concept
(sudden, or incremental over 5,000 rows), or nothing; labels come back at once or 2,000 rows
late; the trainer fits a given family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema, FeatureSpec, TargetSpec

NUMERIC = [f"x{i}" for i in range(8)]
SCHEMA = DatasetSchema(
    name="bench",
    features=(
        *(FeatureSpec(name=n, kind="numeric") for n in NUMERIC),
        FeatureSpec(name="c0", kind="categorical", categories=("a", "b", "c", "d")),
        FeatureSpec(name="c1", kind="categorical", categories=("x", "y")),
    ),
    target=TargetSpec(name="y", classes=("0", "1")),
)
REFERENCE_ROWS, ONSET, BATCH = 5_000, 10_000, 100
INCREMENTAL_ROWS = 5_000
WEIGHTS = np.array([1.5, -1.0, 0.8, 0.0, 0.5, 0.0, -0.6, 0.3])
CONCEPT = np.array([-1.2, 1.4, 0.8, 0.9, -0.5, 0.0, 0.6, -0.3])  # P(y|x) after a concept drift
SURE = 2.2  # logit of a rule's label: 90% of labels follow the rule

#: A concept: the logit of y = 1 for a row's numeric features and its c0.
Concept = Callable[[np.ndarray, str], float]


def linear(weights: np.ndarray) -> Concept:
    return lambda x, c0: float(x @ weights) + (0.8 if c0 == "d" else 0.0) - 0.3


def threshold(at: float, feature: int = 0) -> Concept:
    return lambda x, c0: SURE if x[feature] > at else -SURE


def interaction(a: int = 0, b: int = 1) -> Concept:
    return lambda x, c0: SURE if x[a] * x[b] > 0 else -SURE


def sudden(onset: int, before: Concept, after: Concept) -> Callable[[int], Concept]:
    return lambda i: after if i >= onset else before


def incremental(onset: int, before: Concept, after: Concept) -> Callable[[int], Concept]:
    """The logit moves from the old concept to the new one over INCREMENTAL_ROWS rows."""

    def at(i: int) -> Concept:
        share = min(max((i - onset) / INCREMENTAL_ROWS, 0.0), 1.0)
        return lambda x, c0: (1 - share) * before(x, c0) + share * after(x, c0)

    return at


def _after(onset: int, then: Any, before: Any) -> Callable[[int], Any]:
    return lambda i: then if i >= onset else before


ZERO = np.zeros(8)
ONE = np.zeros(8)
ONE[0] = 0.5
SEVERAL = np.zeros(8)
SEVERAL[:3] = 1.0
C0 = [0.4, 0.3, 0.2, 0.1]


@dataclass(frozen=True)
class Scenario:
    name: str
    onset: int | None
    shift: Callable[[int], np.ndarray] = lambda i: ZERO  # row -> mean shift of x0..x7
    c0: Callable[[int], list[float]] = lambda i: C0
    prior: Callable[[int], float | None] = lambda i: None  # wanted P(y=1), None: natural
    concept: Callable[[int], Concept] = lambda i: linear(WEIGHTS)
    family: str = "logistic"
    #: Labels of a row come back once the stream is this many rows further.
    label_delay: int = 0
    tags: tuple[str, ...] = field(default=())

    def reference(self) -> Scenario:
        """The stream the first model trains on: the scenario's concept before any drift."""
        concept = self.concept(0)
        return Scenario("reference", None, concept=lambda i: concept, family=self.family)


LINEAR_TO_CONCEPT = sudden(ONSET, linear(WEIGHTS), linear(CONCEPT))

SCENARIOS = [
    Scenario("stationary", None),
    Scenario(
        "stationary, threshold, gradient_boosting",
        None,
        concept=lambda i: threshold(0.0),
        family="gradient_boosting",
    ),
    Scenario(
        "stationary, interaction, gradient_boosting",
        None,
        concept=lambda i: interaction(),
        family="gradient_boosting",
    ),
    Scenario("sudden shift, one feature (0.5 sd)", ONSET, shift=_after(ONSET, ONE, ZERO)),
    Scenario(
        "gradual shift, three features (to 1 sd)",
        ONSET,
        shift=lambda i: SEVERAL * min(max((i - ONSET) / 5000, 0.0), 1.0),
    ),
    Scenario("categorical frequency shift", ONSET, c0=_after(ONSET, [0.1, 0.2, 0.3, 0.4], C0)),
    Scenario("label-prior shift", ONSET, prior=_after(ONSET, 0.7, None)),
    Scenario("concept drift", ONSET, concept=LINEAR_TO_CONCEPT),
    Scenario(
        "concept drift, labels 2,000 rows late", ONSET, concept=LINEAR_TO_CONCEPT, label_delay=2000
    ),
    Scenario(
        "concept drift, gradient_boosting",
        ONSET,
        concept=LINEAR_TO_CONCEPT,
        family="gradient_boosting",
    ),
    Scenario(
        "incremental concept drift (5,000 rows)",
        ONSET,
        concept=incremental(ONSET, linear(WEIGHTS), linear(CONCEPT)),
    ),
    Scenario(
        "threshold moves (x0 > 0 to x0 > 1), gradient_boosting",
        ONSET,
        concept=sudden(ONSET, threshold(0.0), threshold(1.0)),
        family="gradient_boosting",
    ),
    Scenario(
        "interaction shift (0.5 sd on x0), gradient_boosting",
        ONSET,
        shift=_after(ONSET, ONE, ZERO),
        concept=lambda i: interaction(),
        family="gradient_boosting",
    ),
    Scenario(
        "interaction changes (x0*x1 to x0*x2), gradient_boosting",
        ONSET,
        concept=sudden(ONSET, interaction(0, 1), interaction(0, 2)),
        family="gradient_boosting",
    ),
]


def draw(
    scenario: Scenario, start: int, n: int, rng: np.random.Generator
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows start..start+n of the scenario's stream."""
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    i = start
    while len(rows) < n:
        x = rng.normal(0, 1, 8) + scenario.shift(i)
        c0 = str(rng.choice(["a", "b", "c", "d"], p=scenario.c0(i)))
        c1 = str(rng.choice(["x", "y"]))
        logit = scenario.concept(i)(x, c0)
        y = int(rng.random() < 1 / (1 + np.exp(-logit)))
        wanted = scenario.prior(i)
        if wanted is not None:  # rejection sampling: P(y) changes, P(x|y) does not
            natural = 0.45
            keep = wanted / natural if y else (1 - wanted) / (1 - natural)
            if rng.random() > keep / max(wanted / natural, (1 - wanted) / (1 - natural)):
                continue
        rows.append(
            {
                **{n_: round(float(v), 5) for n_, v in zip(NUMERIC, x, strict=True)},
                "c0": c0,
                "c1": c1,
            }
        )
        labels.append(str(y))
        i += 1
    return rows, labels
