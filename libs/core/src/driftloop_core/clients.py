"""Optional bearer tokens per client, for deployments without a gateway (ingest, predictor).

``<PREFIX>CLIENT_TOKENS`` (or ``<PREFIX>CLIENT_TOKENS_FILE``) holds ``name=token`` pairs,
comma- or newline-separated. Unset: every route is open, as before. Set: every route but the
operational ones (/healthz, /readyz, /metrics, the OpenAPI docs) needs
``Authorization: Bearer <token>``, and the request is counted under the client's name. The
check is one dict lookup on the header as sent, so it costs the predict path nothing
measurable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from driftloop_bus.secrets import check_secret
from prometheus_client import Counter
from pydantic import BaseModel, Field, SecretStr, model_validator

from .httperrors import error_json
from .telemetry import get_logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Routes a load balancer, Prometheus or a person reading the docs calls without a token.
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
CLIENT_REQUESTS = Counter(
    "driftloop_client_requests",
    "Requests by the client whose bearer token they carried (client tokens set).",
    ["client"],
)
CLIENT_REFUSALS = Counter(
    "driftloop_client_refusals",
    "Requests refused with 401: no bearer token, or one no client has.",
    ["reason"],
)
log = get_logger(__name__)


class ClientTokens:
    """Token → client name. Empty: the service is open."""

    def __init__(self, names_by_token: dict[str, str]) -> None:
        # Keyed by the header's value as clients send it, so a request costs one lookup.
        self._by_header = {f"Bearer {t}".encode("latin-1"): n for t, n in names_by_token.items()}
        self.clients = sorted(set(names_by_token.values()))

    def __bool__(self) -> bool:
        return bool(self._by_header)

    @classmethod
    def parse(cls, setting: str, text: str) -> ClientTokens:
        """`name=token` pairs (comma or newline between, `#` comments); ValueError naming the
        setting and the pair when one is malformed, repeated, or a placeholder."""
        by_token: dict[str, str] = {}
        for n, pair in enumerate(_pairs(text), 1):
            name, sep, token = (part.strip() for part in pair.partition("="))
            if not sep or not name or not token:
                raise ValueError(f"{setting}: pair {n} is not name=token")
            check_secret(f"{setting} ({name})", token)
            if token in by_token:
                raise ValueError(f"{setting}: {name} and {by_token[token]} share a token")
            by_token[token] = name
        return cls(by_token)

    def client(self, authorization: bytes) -> str | None:
        """The client a request's Authorization header names, if any."""
        name = self._by_header.get(authorization)
        if name is None:  # the scheme is case-insensitive: "bearer x" is "Bearer x"
            scheme, _, token = authorization.partition(b" ")
            if scheme.lower() == b"bearer":
                name = self._by_header.get(b"Bearer " + token.strip())
        return name


def _pairs(text: str) -> Iterable[str]:
    for line in text.splitlines():
        for pair in line.split("#", 1)[0].split(","):
            if pair.strip():
                yield pair


class ClientTokenSettings(BaseModel):
    """Fields a service with client tokens adds to its settings (under its env prefix)."""

    client_tokens: SecretStr | None = Field(
        default=None,
        description="name=token pairs, comma-separated: every data route then needs "
        "'Authorization: Bearer <token>' (401 otherwise) and is counted per client name. "
        "Unset (and no file): open. /healthz, /readyz, /metrics and the docs stay open.",
    )
    client_tokens_file: Path | None = Field(
        default=None,
        description="Or a file of name=token pairs (one a line, # comments); both may be set.",
    )

    @model_validator(mode="after")
    def _tokens_are_real(self) -> Any:
        self.clients()  # a malformed pair or a placeholder token refuses to start
        return self

    def clients(self) -> ClientTokens:
        prefix = str(getattr(self, "model_config", {}).get("env_prefix", "")).upper()
        text = self.client_tokens.get_secret_value() if self.client_tokens else ""
        if self.client_tokens_file is not None:
            text += "\n" + self.client_tokens_file.read_text()
        return ClientTokens.parse(f"{prefix}CLIENT_TOKENS", text)


class ClientAuth:
    """Refuse requests without a known client's bearer token (401, the one error shape)."""

    def __init__(self, app: ASGIApp, tokens: ClientTokens) -> None:
        self.app = app
        self.tokens = tokens
        self.counted = {name: CLIENT_REQUESTS.labels(client=name) for name in tokens.clients}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or await self.admit(scope, send):
            await self.app(scope, receive, send)

    async def admit(self, scope: Scope, send: Send) -> bool:
        """Whether the request carries a client's token; if not, the 401 is sent."""
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        name = None if authorization is None else self.tokens.client(authorization)
        if name is None:
            await self._refuse(scope, send, "missing" if authorization is None else "unknown")
            return False
        self.counted[name].inc()
        scope.setdefault("state", {})["client"] = name
        return True

    async def _refuse(self, scope: Scope, send: Send, reason: str) -> None:
        CLIENT_REFUSALS.labels(reason=reason).inc()
        log.warning("request refused", reason=f"{reason} client token", path=scope["path"])
        message = (
            "send 'Authorization: Bearer <token>' with your client token"
            if reason == "missing"
            else "this bearer token is not a client's token; check the token you were given"
        )
        headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": error_json("unauthorized", message)})
