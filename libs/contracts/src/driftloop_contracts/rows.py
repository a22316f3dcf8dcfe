"""Validation of rows against a DatasetSchema: one clear reason per bad row."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .refs import FeatureRow, FeatureValue
from .schema import DatasetSchema, FeatureSpec


class RowError(ValueError):
    """A row does not fit the schema; the message says what to fix."""


def _numeric(spec: FeatureSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise RowError(f"feature {spec.name!r} must be a number, got {value!r}") from None
        else:
            raise RowError(
                f"feature {spec.name!r} must be a number, got {type(value).__name__} {value!r}"
            )
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise RowError(f"feature {spec.name!r} must be finite, got {value!r}")
    if spec.minimum is not None and number < spec.minimum:
        raise RowError(f"feature {spec.name!r} is {number}, below the minimum {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise RowError(f"feature {spec.name!r} is {number}, above the maximum {spec.maximum}")
    return number


def _categorical(spec: FeatureSpec, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(
            f"feature {spec.name!r} is categorical: send a string, got {type(value).__name__}"
        )
    return str(value)


def validate_features(schema: DatasetSchema, features: Mapping[str, Any]) -> FeatureRow:
    """The row with values coerced to the schema's types, or RowError."""
    if not isinstance(features, Mapping):
        raise RowError(f"features must be an object, got {type(features).__name__}")
    names = schema.feature_names  # built by a property: once per row, not once per key
    unknown = [k for k in features if k not in names]
    if unknown:
        raise RowError(f"unknown feature(s) {sorted(unknown)}; the schema has {list(names)}")
    clean: dict[str, FeatureValue] = {}
    for spec in schema.features:
        value = features.get(spec.name, spec.default)  # absent: rows older than the feature
        if value is None or value == "":
            if not spec.nullable:
                raise RowError(f"missing feature {spec.name!r}")
            clean[spec.name] = None
        elif spec.kind == "numeric":
            clean[spec.name] = _numeric(spec, value)
        else:
            clean[spec.name] = _categorical(spec, value)
    return clean


def validate_label(schema: DatasetSchema, label: Any) -> str:
    """The label as its canonical text: a class name, or a finite number for regression."""
    target = schema.target
    if label is None or label == "":
        raise RowError(f"missing label {target.name!r}")
    if target.is_regression:
        return _numeric_label(target.name, label)
    text = str(label) if isinstance(label, int | str) and not isinstance(label, bool) else None
    if text is None or text not in target.classes:
        raise RowError(f"label {label!r} is not one of {list(target.classes)}")
    return text


def _numeric_label(name: str, label: Any) -> str:
    try:
        number = float(label) if not isinstance(label, bool) else math.nan
    except (TypeError, ValueError, OverflowError):  # overflow: an integer too large for a float
        number = math.nan
    if not math.isfinite(number):
        raise RowError(f"label {label!r} of {name!r} is not a finite number")
    return repr(number)
