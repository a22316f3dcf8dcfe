"""Admin routes: one bearer token per service, compared in constant time."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from .errors import NotReady, Unauthorized


def check_bearer(token: SecretStr | None, authorization: str | None, unset: str) -> None:
    """Pass if `authorization` is `Bearer <token>`; NotReady(`unset`) when no token is set
    (the admin routes are disabled), Unauthorized otherwise."""
    if token is None:
        raise NotReady(unset)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise Unauthorized("send the admin token as 'Authorization: Bearer <token>'")
