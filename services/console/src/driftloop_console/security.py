"""The operator's admin token and CSRF, as cookies.

The console holds no token: the operator enters the registry's admin token once (a form), it
is kept in an HttpOnly, SameSite=Strict cookie and forwarded as `Authorization: Bearer` on
admin actions only. Every form carries a CSRF token equal to a second cookie (double submit);
SameSite=Strict alone already keeps other sites' forms from sending the cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

TOKEN_COOKIE = "driftloop_admin"
CSRF_COOKIE = "driftloop_csrf"
MAX_TOKEN = 512


def csrf_of(request: Request) -> str:
    """The browser's CSRF token (a new one if it has none; `remember` sets it)."""
    found = request.cookies.get(CSRF_COOKIE)
    if found and 20 <= len(found) <= 64:
        return found
    made: str = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(24))
    return made


def remember_csrf(request: Request, response: Response, secure: bool) -> None:
    made = request.state.__dict__.get("new_csrf")
    if made:
        response.set_cookie(CSRF_COOKIE, made, httponly=True, samesite="strict", secure=secure)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted) and hmac.compare_digest(
        str(cookie).encode(), str(submitted).encode()
    )


def token_of(request: Request) -> str | None:
    token = request.cookies.get(TOKEN_COOKIE)
    return token if token and len(token) <= MAX_TOKEN else None


def keep_token(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=8 * 3600
    )


def forget_token(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="strict")


def token_matches(token: str, sha256_hex: str) -> bool:
    """The operator's token against the registry token's SHA-256 (for dead-letter replay)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return hmac.compare_digest(digest, sha256_hex)
