"""A generated credit-risk dataset with a drift switch, so the demo needs no download.

Before the drift, default risk rises with utilization and debt and falls with income. After it,
incomes fall (covariate shift) and the relation between utilization and default reverses with a
new regional effect (concept drift): a model trained before is wrong after, and a model trained
on post-drift rows is right again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from driftloop_contracts import DatasetSchema, FeatureSpec, TargetSpec

Phase = Literal["before", "after"]
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "branch", "partner")

SCHEMA = DatasetSchema(
    name="demo",
    features=(
        FeatureSpec(name="income", kind="numeric", minimum=0),
        FeatureSpec(name="debt_ratio", kind="numeric", minimum=0, maximum=5),
        FeatureSpec(name="age", kind="numeric", minimum=18, maximum=100),
        FeatureSpec(name="utilization", kind="numeric", minimum=0, maximum=1),
        FeatureSpec(name="credit_lines", kind="numeric", minimum=0),
        FeatureSpec(name="region", kind="categorical", categories=REGIONS),
        FeatureSpec(name="channel", kind="categorical", categories=CHANNELS),
    ),
    target=TargetSpec(name="default", classes=("no", "yes")),
)


@dataclass(frozen=True)
class LabelledRows:
    features: list[dict[str, Any]]
    labels: list[str]


class CreditScenario:
    """Draw rows of either phase; the same seed gives the same rows."""

    schema = SCHEMA

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int, phase: Phase) -> LabelledRows:
        rng = self.rng
        after = phase == "after"
        income = rng.normal(38 if after else 55, 14, n).clip(5, None)
        debt = rng.gamma(2.0, 0.25, n).clip(0, 5)
        age = rng.uniform(18, 80, n)
        util = rng.beta(2, 3 if after else 5, n)
        lines = rng.poisson(4, n).astype(float)
        region_p = [0.15, 0.15, 0.2, 0.5] if after else [0.3, 0.3, 0.2, 0.2]
        region = rng.choice(REGIONS, n, p=region_p)
        channel = rng.choice(CHANNELS, n, p=[0.5, 0.3, 0.2])
        z_income = (income - 50) / 15
        z_util = (util - 0.3) / 0.2
        z_debt = (debt - 0.5) / 0.35
        if after:
            logit = -1.2 * z_income - 1.8 * z_util + 1.2 * z_debt + 1.6 * (region == "west") - 0.2
        else:
            logit = (
                -2.0 * z_income + 2.2 * z_util + 1.2 * z_debt + 0.6 * (channel == "partner") - 0.3
            )
        default = rng.random(n) < 1 / (1 + np.exp(-logit))
        features = [
            {
                "income": round(float(income[i]), 2),
                "debt_ratio": round(float(debt[i]), 3),
                "age": round(float(age[i]), 1),
                "utilization": round(float(util[i]), 3),
                "credit_lines": float(lines[i]),
                "region": str(region[i]),
                "channel": str(channel[i]),
            }
            for i in range(n)
        ]
        return LabelledRows(features, ["yes" if d else "no" for d in default])


HOUSE_SCHEMA = DatasetSchema(
    name="houses",
    features=(
        FeatureSpec(name="area", kind="numeric", minimum=10, maximum=1000),
        FeatureSpec(name="rooms", kind="numeric", minimum=1, maximum=20),
        FeatureSpec(name="age", kind="numeric", minimum=0, maximum=200),
        FeatureSpec(name="district", kind="categorical", categories=REGIONS),
    ),
    target=TargetSpec(name="price", kind="regression"),
)
DISTRICT_PREMIUM = {"north": 40.0, "south": 0.0, "east": 15.0, "west": -10.0}


class HouseScenario:
    """A regression dataset with a drift switch: prices (thousands) from area, rooms, age and
    district. After the drift the relation changes (concept drift: area is worth less, age
    costs more and the district premiums reverse) while the features keep their distribution,
    so only the errors tell. Labels are numbers as text, as ingest stores them."""

    schema = HOUSE_SCHEMA

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int, phase: Phase) -> LabelledRows:
        rng = self.rng
        area = rng.normal(110, 35, n).clip(20, 600)
        rooms = np.maximum(1, np.round(area / 30 + rng.normal(0, 0.7, n))).clip(1, 20)
        age = rng.uniform(0, 80, n)
        district = rng.choice(REGIONS, n, p=[0.3, 0.3, 0.2, 0.2])
        premium = np.array([DISTRICT_PREMIUM[str(d)] for d in district])
        if phase == "after":
            price = 60 + 1.2 * area + 4 * rooms - 2.5 * age - premium
        else:
            price = 40 + 2.5 * area + 6 * rooms - 0.8 * age + premium
        price = price + rng.normal(0, 12, n)
        features = [
            {
                "area": round(float(area[i]), 1),
                "rooms": float(rooms[i]),
                "age": round(float(age[i]), 1),
                "district": str(district[i]),
            }
            for i in range(n)
        ]
        return LabelledRows(features, [repr(round(float(p), 2)) for p in price])


SOILS = ("clay", "sand", "loam")
PLANT_SCHEMA = DatasetSchema(
    name="plants",
    features=(
        FeatureSpec(name="height", kind="numeric", minimum=0, maximum=100),
        FeatureSpec(name="leaf_width", kind="numeric", minimum=0, maximum=30),
        FeatureSpec(name="soil", kind="categorical", categories=SOILS),
    ),
    target=TargetSpec(name="species", classes=("fern", "ivy", "moss")),
)


class PlantScenario:
    """A multiclass dataset with a drift switch: three species told apart by height and leaf
    width. After the drift the plants grow taller (covariate shift) and the species' leaf
    widths swap (concept drift): a model trained before is wrong after."""

    schema = PLANT_SCHEMA

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int, phase: Phase) -> LabelledRows:
        rng = self.rng
        after = phase == "after"
        species = rng.choice(3, n)
        heights = np.array([10.0, 30.0, 50.0]) + (15.0 if after else 0.0)
        widths = np.array([16.0, 10.0, 4.0]) if after else np.array([4.0, 10.0, 16.0])
        height = (heights[species] + rng.normal(0, 6, n)).clip(0, 100)
        width = (widths[species] + rng.normal(0, 2, n)).clip(0, 30)
        soil = rng.choice(SOILS, n)
        features = [
            {
                "height": round(float(height[i]), 1),
                "leaf_width": round(float(width[i]), 2),
                "soil": str(soil[i]),
            }
            for i in range(n)
        ]
        labels = [PLANT_SCHEMA.target.classes[s] for s in species]
        return LabelledRows(features, labels)
