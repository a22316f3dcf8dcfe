from __future__ import annotations

from driftloop_core import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class MonitorSettings(ServiceSettings):
    """Drift monitor: windows, tests and thresholds. Env prefix MONITOR_."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", populate_by_name=True, extra="ignore")

    port: int = 8005
    window_size: int = Field(default=500, ge=30, description="Live rows per test window.")
    window_step: int | None = Field(
        default=None,
        ge=1,
        description="Rows between two tests (sliding windows). Unset: the window size "
        "(tumbling windows).",
    )
    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=0.5,
        description="Moderate evidence: family-wise false-alarm rate per window (Bonferroni "
        "across features), needed in `consecutive_windows` windows in a row.",
    )
    consecutive_windows: int = Field(
        default=3, ge=1, description="Windows in a row with moderate evidence before drift."
    )
    alpha_strict: float = Field(
        default=1e-4,
        gt=0,
        lt=0.5,
        description="Strong evidence: one window under this family-wise rate is drift.",
    )
    min_effect_numeric: float = Field(
        default=0.1,
        ge=0,
        description="Smallest Wasserstein distance, in reference standard deviations, that "
        "counts as drift on a numeric feature.",
    )
    min_effect_categorical: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Smallest Jensen-Shannon distance that counts as drift on a categorical "
        "feature or on the predicted classes.",
    )
    min_labels: int = Field(
        default=200, ge=10, description="Joined labels needed before accuracy is judged."
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
    adwin_delta: float = Field(
        default=0.002, gt=0, lt=1, description="ADWIN confidence on the error stream."
    )
    min_error_increase: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="An error-rate change ADWIN finds counts when the new rate exceeds the "
        "promoted one by this much.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8005",
        description="Base URL drift reports are linked at from drift.detected events.",
    )
    batch_size: int = Field(default=100, ge=1, description="Stream entries read per delivery.")
    join_ttl_s: int = Field(default=3 * 24 * 3600, ge=60)
