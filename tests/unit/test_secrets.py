"""Secrets a deployment sets are refused at start when they are placeholders."""

from __future__ import annotations

import pytest
from driftloop_bus.secrets import check_secret, placeholder_reason


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "replace-with-a-real-secret-of-16+-characters",
        "an-example-password-here",
        "xxxxxxxxxxxxxxxxxxxxxxxx",
        "short-Secret1",
    ],
)
def test_a_placeholder_is_refused_with_the_setting_and_what_to_do(value: str) -> None:
    with pytest.raises(ValueError, match=r"REDIS_PASSWORD must be a real secret: .*token_urlsafe"):
        check_secret("REDIS_PASSWORD", value)


def test_a_generated_secret_is_accepted_and_an_unset_one_is_left_to_the_caller() -> None:
    assert placeholder_reason("q3N0bX9dJ2v_Lr8wYpT5sA") is None
    check_secret("REDIS_PASSWORD", None)
