from __future__ import annotations

from pathlib import Path

from driftloop_bus.secrets import check_secret
from driftloop_core import ServiceSettings
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict


class ConsoleSettings(ServiceSettings):
    """The web console: reads the services' HTTP APIs and the streams. Env prefix CONSOLE_."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", populate_by_name=True, extra="ignore")

    port: int = 8006
    ingest_url: str = Field(default="http://127.0.0.1:8001", description="Ingest's HTTP API.")
    trainer_url: str = Field(default="http://127.0.0.1:8002", description="Trainer's HTTP API.")
    registry_url: str = Field(default="http://127.0.0.1:8003", description="Registry's HTTP API.")
    predictor_url: str = Field(default="http://127.0.0.1:8004", description="Predictor's HTTP API.")
    monitor_url: str = Field(
        default="http://127.0.0.1:8005", description="Drift monitor's HTTP API."
    )
    public_monitor_url: str | None = Field(
        default=None,
        description="The drift monitor as a browser reaches it, for report links (default: "
        "monitor_url).",
    )
    timeout_s: float = Field(default=5.0, gt=0, description="Timeout of each call to a service.")
    tail: int = Field(default=50, ge=1, le=1000, description="Entries per stream the tail shows.")
    scan: int = Field(
        default=500,
        ge=10,
        le=10_000,
        description="Newest entries read from drift.detected (and each dead-letter stream) for "
        "timelines, lineage and dead letters.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Mark the console's cookies Secure (set it when the console is served "
        "over HTTPS).",
    )
    admin_token_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the registry's admin token. With CONSOLE_REPLAY_USERNAME "
        "it enables dead-letter replay: the console checks the operator's token against it "
        "(it holds no token itself).",
    )
    replay_username: str | None = Field(
        default=None,
        description="Redis ACL user the console replays dead letters as (console-admin: "
        "XRANGE/XDEL on dead letters, XADD on their streams). Unset: replay is disabled.",
    )
    replay_password: SecretStr | None = Field(default=None, description="Its password.")
    replay_password_file: Path | None = Field(
        default=None, description="A file holding CONSOLE_REPLAY_PASSWORD."
    )

    @field_validator("admin_token_sha256", "replay_username", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _replay_password(self) -> ConsoleSettings:
        if self.replay_password is None and self.replay_password_file is not None:
            text = self.replay_password_file.read_text().rstrip("\r\n")
            self.replay_password = SecretStr(text)
        if self.replay_password is not None:
            check_secret("CONSOLE_REPLAY_PASSWORD", self.replay_password.get_secret_value())
        return self

    @property
    def report_base(self) -> str:
        return (self.public_monitor_url or self.monitor_url).rstrip("/")

    @property
    def replay_enabled(self) -> bool:
        return bool(self.admin_token_sha256 and self.replay_username and self.replay_password)
