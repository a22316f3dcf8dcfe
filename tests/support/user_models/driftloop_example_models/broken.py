"""Entry points that go wrong in each way the trainer must report (tests only)."""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import LinearRegression, LogisticRegression


def raises(schema: Any) -> Any:
    raise RuntimeError("no estimator today")


def not_an_estimator(schema: Any) -> Any:
    return "a string"


def cannot_fit(schema: Any) -> Any:
    return LogisticRegression()  # strings in the raw columns: fit fails


def no_probabilities(schema: Any) -> Any:
    return LinearRegression()  # no predict_proba for a classification target
