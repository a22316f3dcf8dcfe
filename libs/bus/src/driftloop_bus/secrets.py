"""One rule for every secret a deployment sets (tokens, Redis passwords, signing keys): a
placeholder copied from an example is refused at start, with what to do instead."""

from __future__ import annotations

PLACEHOLDER_WORDS = ("replace", "changeme", "change-me", "change_me", "example", "placeholder")
PLACEHOLDER_VALUES = {"secret", "token", "admin", "password", "passw0rd", "redis"}
MIN_LENGTH = 16
HOW = "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"


def placeholder_reason(value: str) -> str | None:
    """Why `value` cannot be a real secret, or None when it may be one."""
    lowered = value.lower()
    if len(value) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    if lowered in PLACEHOLDER_VALUES or any(word in lowered for word in PLACEHOLDER_WORDS):
        return "it looks like a placeholder copied from an example"
    if len(set(value)) < 6:
        return "it repeats too few distinct characters"
    return None


def check_secret(name: str, value: str | None) -> None:
    """Raise ValueError naming the setting when `value` is set but is a placeholder."""
    if value is None:
        return
    reason = placeholder_reason(value)
    if reason is not None:
        raise ValueError(f"{name} must be a real secret: {reason} ({HOW})")
