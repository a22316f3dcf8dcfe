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


class TargetSpec(BaseModel):
    """The label column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Column name of the label in records.")
    classes: tuple[str, ...] = Field(
        min_length=2, description="Every label value; a record with another label is rejected."
    )


class DatasetSchema(BaseModel):
    """Features and target of one dataset; records are validated against it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Dataset name.")
    features: tuple[FeatureSpec, ...] = Field(min_length=1, description="Input columns, in order.")
    target: TargetSpec

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
