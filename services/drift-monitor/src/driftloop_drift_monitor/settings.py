from __future__ import annotations

from driftloop_core import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class MonitorSettings(ServiceSettings):
    """Drift monitor: windows, tests and thresholds. Env prefix MONITOR_."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", populate_by_name=True, extra="ignore")

    port: int = 8005
    window_size: int = Field(
        default=500, ge=30, description="Live rows per test window (tumbling windows)."
    )
    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=0.5,
        description="Family-wise false-alarm rate per window; Bonferroni-split across features.",
    )
    consecutive_windows: int = Field(
        default=2, ge=1, description="Drifted windows in a row before data drift is declared."
    )
    min_labels: int = Field(
        default=200, ge=10, description="Joined labels needed before live accuracy is judged."
    )
    label_window: int = Field(
        default=300, ge=10, description="Most recent joined labels live accuracy is taken over."
    )
    max_accuracy_drop: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description="Performance drift when live accuracy falls this far below the accuracy "
        "the model was promoted with.",
    )
    batch_size: int = Field(default=100, ge=1, description="Stream entries read per delivery.")
    join_ttl_s: int = Field(default=3 * 24 * 3600, ge=60)
