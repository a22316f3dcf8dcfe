"""What the bus needs to know: where Redis is, the namespace, and the delivery policy.

Every field reads an unprefixed variable (REDIS_URL, DRIFTLOOP_*), so one environment
configures the bus of every service; services extend this class with their own prefix.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .secrets import check_secret


def default_consumer_name() -> str:
    """Unique per replica: two replicas never share a consumer name (and a pending list)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def env(name: str) -> AliasChoices:
    """An unprefixed environment variable, whatever the settings class's prefix."""
    return AliasChoices(name, name.lower())


class BusSettings(BaseSettings):
    """Settings of the event bus."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=env("REDIS_URL"),
        description="Redis server holding the event streams: its address only. Credentials "
        "go in REDIS_USERNAME and REDIS_PASSWORD, so a password needs no URL escaping.",
    )
    redis_username: str | None = Field(
        default=None,
        validation_alias=env("REDIS_USERNAME"),
        description="Redis ACL user of this process (ingest, trainer, registry, predictor, "
        "drift-monitor, client, admin); unset: the default user.",
    )
    redis_password: SecretStr | None = Field(
        default=None,
        validation_alias=env("REDIS_PASSWORD"),
        description="Password of REDIS_USERNAME. A placeholder is refused at start.",
    )
    redis_password_file: Path | None = Field(
        default=None,
        validation_alias=env("REDIS_PASSWORD_FILE"),
        description="A file holding REDIS_PASSWORD (a mounted secret); trailing newline ignored.",
    )
    redis_sentinels: str | None = Field(
        default=None,
        validation_alias=env("REDIS_SENTINELS"),
        description="Sentinels that know the primary, 'host:port,host:port,...'. Set: the "
        "primary is found through them and a failover is followed without a restart; "
        "REDIS_URL then gives only the database number.",
    )
    redis_sentinel_master: str = Field(
        default="driftloop",
        min_length=1,
        validation_alias=env("REDIS_SENTINEL_MASTER"),
        description="The name the sentinels monitor the primary under.",
    )
    redis_wait_replicas: int = Field(
        default=0,
        ge=0,
        validation_alias=env("REDIS_WAIT_REPLICAS"),
        description="Replicas that must hold a write accepted over HTTP (records, labels, "
        "promotions) before it is acknowledged (WAIT); 0: do not wait. With one replica, 1 "
        "means a failover loses no acknowledged write.",
    )
    redis_wait_timeout_ms: int = Field(
        default=1000,
        ge=1,
        validation_alias=env("REDIS_WAIT_TIMEOUT_MS"),
        description="How long a write waits for REDIS_WAIT_REPLICAS before it is answered "
        "503 (kept on the primary; the client retries).",
    )
    redis_cluster: bool = Field(
        default=False,
        validation_alias=env("REDIS_CLUSTER"),
        description="Redis is a Redis Cluster: REDIS_URL (or REDIS_CLUSTER_NODES) names seed "
        "nodes, commands follow the slot map, and each shard's subscribers read from the "
        "primary owning its slot. Set REDIS_SHARDS to spread datasets over the primaries.",
    )
    redis_cluster_nodes: str | None = Field(
        default=None,
        validation_alias=env("REDIS_CLUSTER_NODES"),
        description="Seed nodes of the cluster, 'host:port,host:port,...'; unset: REDIS_URL.",
    )
    redis_shards: int = Field(
        default=1,
        ge=1,
        le=256,
        validation_alias=env("REDIS_SHARDS"),
        description="Shards the datasets are spread over: each is the namespace plus a hash "
        "tag ({s0}, {s1}, ...), one cluster slot, so a delivery's commit stays on one node. "
        "1: no tag, today's key names. Fixed for the life of the data (a dataset's shard is "
        "a hash of its name modulo this number); scale by moving slots, not by changing it.",
    )
    namespace: str = Field(
        default="",
        validation_alias=env("DRIFTLOOP_NAMESPACE"),
        description="Prefix of every stream and key; lets several stacks share one Redis.",
    )
    consumer_name: str = Field(
        default_factory=default_consumer_name,
        validation_alias=env("DRIFTLOOP_CONSUMER"),
        description="Consumer name in every group; unique per replica.",
    )
    max_attempts: int = Field(
        default=5,
        ge=1,
        validation_alias=env("DRIFTLOOP_MAX_ATTEMPTS"),
        description="Deliveries of an event before it goes to the dead-letter stream.",
    )
    reclaim_idle_ms: int = Field(
        default=30_000,
        ge=100,
        validation_alias=env("DRIFTLOOP_RECLAIM_IDLE_MS"),
        description="A pending event idle this long is reclaimed from its (dead) consumer. "
        "Handlers that run longer keep their lease, so this is not a handler timeout.",
    )
    dedupe_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        validation_alias=env("DRIFTLOOP_DEDUPE_TTL_S"),
        description="How long a handled event_id is remembered to drop duplicates.",
    )
    retention_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        validation_alias=env("DRIFTLOOP_RETENTION_S"),
        description="Stream entries older than this are trimmed, but only once every consumer "
        "group has acknowledged them; the newest entry of a stream is always kept.",
    )
    retention_maxlen: int = Field(
        default=100_000,
        ge=0,
        validation_alias=env("DRIFTLOOP_RETENTION_MAXLEN"),
        description="Entries each stream keeps at most (0: no length bound; 100,000 "
        "prediction.logged entries of 20 predictions, the predictor's batch at 100/s, are "
        "about 0.35 GB: make bench-capacity): the oldest "
        "beyond it are trimmed with age retention, and like it never before every consumer "
        "group has acknowledged them; a stream a group holds longer is counted "
        "(driftloop_stream_retention_held_entries) and alerted on (RetentionHeldBack).",
    )
    dlq_maxlen: int = Field(
        default=10_000,
        ge=1,
        validation_alias=env("DRIFTLOOP_DLQ_MAXLEN"),
        description="Dead letters kept per stream (XADD MAXLEN ~: the oldest go first).",
    )
    dlq_payload_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        validation_alias=env("DRIFTLOOP_DLQ_PAYLOAD_BYTES"),
        description="A dead letter keeps its entry whole up to this many bytes; a larger one "
        "keeps its first bytes (cut:<field>) and its original size, and cannot be replayed.",
    )
    maintenance_s: float = Field(
        default=5.0,
        gt=0,
        validation_alias=env("DRIFTLOOP_MAINTENANCE_S"),
        description="Period of the bus maintenance loop: restart stopped subscribers (after a "
        "lost consumer group), export lag and dead-letter gauges, trim streams.",
    )
    failpoints: str = Field(
        default="",
        validation_alias=env("DRIFTLOOP_FAILPOINTS"),
        description="Fault injection for tests only: 'name=crash|hang|error,...'; each fires "
        "once per namespace. Empty in production.",
    )

    @field_validator("redis_password")
    @classmethod
    def _real_password(cls, value: SecretStr | None) -> SecretStr | None:
        check_secret("REDIS_PASSWORD", None if value is None else value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _password_from_file(self) -> Self:
        if self.redis_password_file is None:
            return self
        if self.redis_password is not None:
            raise ValueError("set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both")
        try:
            text = self.redis_password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"REDIS_PASSWORD_FILE cannot be read: {exc}") from None
        check_secret("REDIS_PASSWORD (from REDIS_PASSWORD_FILE)", text)
        self.redis_password = SecretStr(text)
        return self

    @model_validator(mode="after")
    def _one_topology(self) -> Self:
        if self.redis_cluster and self.sentinels():
            raise ValueError("set REDIS_CLUSTER or REDIS_SENTINELS, not both")
        if self.redis_shards > 1 and "{" in self.namespace:
            raise ValueError("DRIFTLOOP_NAMESPACE must not contain '{' when REDIS_SHARDS > 1")
        return self

    @field_validator("redis_cluster_nodes")
    @classmethod
    def _cluster_addresses(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            nodes(value, "REDIS_CLUSTER_NODES")
            return value
        return None

    def cluster_nodes(self) -> list[tuple[str, int]]:
        """The cluster's seed nodes: REDIS_CLUSTER_NODES, else REDIS_URL's host and port."""
        if self.redis_cluster_nodes:
            return nodes(self.redis_cluster_nodes, "REDIS_CLUSTER_NODES")
        url = urlsplit(self.redis_url)
        return [(url.hostname or "127.0.0.1", url.port or 6379)]

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            sentinel_nodes(value)  # raises, naming the bad address
            return value
        return None

    def sentinels(self) -> list[tuple[str, int]]:
        """REDIS_SENTINELS as (host, port) pairs; empty without sentinels."""
        return sentinel_nodes(self.redis_sentinels) if self.redis_sentinels else []

    def redis_auth(self) -> dict[str, Any]:
        """Username and password as separate connection arguments (redis-py, FastStream)."""
        password = self.redis_password.get_secret_value() if self.redis_password else None
        return {"username": self.redis_username, "password": password}


def sentinel_nodes(text: str) -> list[tuple[str, int]]:
    """'host:port,host:port' as pairs, or ValueError saying which address is wrong."""
    return nodes(text, "REDIS_SENTINELS", "sentinel-0:26379,sentinel-1:26379,sentinel-2:26379")


def nodes(text: str, name: str, example: str = "redis-0:6379") -> list[tuple[str, int]]:
    """'host:port,host:port' as pairs, or ValueError naming the variable and the bad address."""
    found: list[tuple[str, int]] = []
    for address in (a.strip() for a in text.split(",")):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{name}: {address!r} is not host:port (e.g. '{example}')")
        found.append((host, int(port)))
    return found
