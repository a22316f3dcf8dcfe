"""The shape of a dataset: its features and its target. Shared by ingest, trainer and predictor."""

from __future__ import annotations

import hashlib
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FeatureSpec(BaseModel):
    """One input column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Column name in records and prediction rows.")
    kind: Literal["numeric", "categorical"] = Field(description="How the column is encoded.")
    categories: tuple[str, ...] | None = Field(
        default=None,
        description="Known categories (categorical only). Unknown values are accepted and "
        "encoded as 'other'; listing them documents the column and seeds the encoder.",
    )
    minimum: float | None = Field(default=None, description="Smallest valid value (numeric).")
    maximum: float | None = Field(default=None, description="Largest valid value (numeric).")
    nullable: bool = Field(default=False, description="Whether the value may be missing.")
    default: float | str | None = Field(
        default=None,
        description="Value for rows that predate the feature. Required for a feature that a schema "
        "evolution adds (a number for numeric, a string for categorical).",
    )

    @model_validator(mode="after")
    def _default_matches_kind(self) -> Self:
        if self.default is None:
            return self
        numeric = isinstance(self.default, int | float) and not isinstance(self.default, bool)
        if self.kind == "numeric" and not numeric:
            raise ValueError(f"default of numeric feature {self.name!r} must be a number")
        if self.kind == "categorical" and not isinstance(self.default, str):
            raise ValueError(f"default of categorical feature {self.name!r} must be a string")
        return self


class TargetSpec(BaseModel):
    """The label column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Column name of the label in records.")
    kind: Literal["classification", "regression"] = Field(
        default="classification",
        description="classification: labels are one of `classes`; regression: labels are numbers.",
    )
    classes: tuple[str, ...] = Field(
        default=(),
        description="Every label value (classification: at least two; regression: none); a "
        "record with another label is rejected.",
    )

    @model_validator(mode="after")
    def _classes_match_kind(self) -> Self:
        if self.kind == "classification" and len(self.classes) < 2:
            raise ValueError(
                f"target {self.name!r}: a classification target needs `classes` (at least two); "
                'for a numeric target set "kind": "regression"'
            )
        if self.kind == "regression" and self.classes:
            raise ValueError(f"target {self.name!r}: a regression target has no `classes`")
        return self

    @property
    def is_regression(self) -> bool:
        return self.kind == "regression"


#: What a dataset name may be: it is a path segment, a Redis key part and a metric label.
DATASET_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class DatasetSchema(BaseModel):
    """Features and target of one dataset; records are validated against it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=DATASET_NAME, description="Dataset name.")
    features: tuple[FeatureSpec, ...] = Field(min_length=1, description="Input columns, in order.")
    target: TargetSpec
    version: int = Field(
        default=1,
        ge=1,
        description="Schema version within the dataset; each additive evolution adds one.",
    )

    @model_validator(mode="after")
    def _names_are_unique(self) -> Self:
        names = [f.name for f in self.features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"feature names must be unique, repeated: {duplicated}")
        if self.target.name in names:
            raise ValueError(f"target {self.target.name!r} is also listed as a feature")
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON: two schemas with the same fingerprint are the same."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class SchemaEvolutionError(ValueError):
    """A proposed schema is not an additive evolution of the current one; says why."""


def evolve(current: DatasetSchema, proposed: DatasetSchema) -> DatasetSchema:
    """The schema that registering ``proposed`` over ``current`` yields.

    The same features and target (whatever version ``proposed`` names) is ``current`` itself:
    registering twice is idempotent. New features appended at the end, each with a ``default``,
    make version ``current.version + 1``. Anything else raises SchemaEvolutionError naming what
    changed: models trained on the current schema must keep working on every row.
    """
    if proposed.name != current.name:
        raise SchemaEvolutionError(f"name {proposed.name!r} is not {current.name!r}")
    if proposed.target != current.target:
        raise SchemaEvolutionError(
            f"target {current.target.name!r} cannot change (register a new dataset instead)"
        )
    old, new = current.features, proposed.features
    for index, spec in enumerate(old):
        if index >= len(new) or new[index].name != spec.name:
            raise SchemaEvolutionError(
                f"feature {spec.name!r} must stay at position {index}: features can only be "
                "added at the end"
            )
        if new[index] != spec:
            raise SchemaEvolutionError(f"feature {spec.name!r} cannot change")
    added = new[len(old) :]
    if not added:
        return current
    missing = [spec.name for spec in added if spec.default is None]
    if missing:
        raise SchemaEvolutionError(f"added features need a default: {missing}")
    return proposed.model_copy(update={"version": current.version + 1})
