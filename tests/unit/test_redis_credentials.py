"""Redis credentials are settings of their own: the URL is the address only, so a password
needs no escaping, a file can hold it, and a placeholder is refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from driftloop_bus import BusSettings
from pydantic import ValidationError

SLASHES = "Xq7/ab/cd+ef==Lm9k2"  # base64: broke REDIS_URL parsing (`ab/cd+ef==` raised)
AT_HASH = "p@ss#word-Zr8tQw2n"  # `p@ss#word` in a URL silently connected to host `ss`


@pytest.mark.parametrize("password", [SLASHES, AT_HASH])
def test_a_password_with_url_characters_is_passed_as_its_own_argument(
    password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/0")
    monkeypatch.setenv("REDIS_USERNAME", "trainer")
    monkeypatch.setenv("REDIS_PASSWORD", password)
    settings = BusSettings()
    assert settings.redis_url == "redis://redis.internal:6379/0"
    assert settings.redis_auth() == {"username": "trainer", "password": password}


def test_the_password_can_come_from_a_file_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(SLASHES + "\n")
    settings = BusSettings(redis_username="ingest", redis_password_file=secret)
    assert settings.redis_auth() == {"username": "ingest", "password": SLASHES}


def test_a_placeholder_password_is_refused_at_start_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="REDIS_PASSWORD must be a real secret"):
        BusSettings(redis_password="replace-with-a-real-secret-of-16+-characters")


def test_a_placeholder_in_the_password_file_is_refused_too(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("changeme\n")
    with pytest.raises(ValidationError, match=r"REDIS_PASSWORD_FILE.*must be a real secret"):
        BusSettings(redis_password_file=secret)


def test_a_password_and_a_password_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(SLASHES)
    with pytest.raises(ValidationError, match="not both"):
        BusSettings(redis_password=AT_HASH, redis_password_file=secret)


def test_without_credentials_the_default_user_connects() -> None:
    assert BusSettings().redis_auth() == {"username": None, "password": None}
