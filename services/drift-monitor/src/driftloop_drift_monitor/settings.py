from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftloop_core import ServiceSettings
from driftloop_core.signing import KeySettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from .config import Limits, PerDataset, WatchConfig
from .performance import PerformanceConfig
from .windows import DriftConfig


class MonitorSettings(ServiceSettings, KeySettings):
    """Drift monitor: windows, tests and thresholds. Env prefix MONITOR_.

    The monitor watches every dataset whose predictions it sees (DRIFTLOOP_DATASET does not
    apply); these settings are the defaults of all of them. A dataset's registration may
    override the detection settings (`monitoring`: these names without the prefix, see
    contracts' MonitoringOverrides).
    """

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
        default=200, ge=10, description="Labelled predictions needed before accuracy is judged."
    )
    label_window: int = Field(
        default=300,
        ge=10,
        description="Most recent labelled predictions live accuracy is taken over.",
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
    versions_per_dataset: int = Field(
        default=2,
        ge=1,
        description="Versions of one dataset watched at once: the ones most recently seen in "
        "primary prediction logs (the serving one, and the one before it while its last logs "
        "and labels arrive); older ones are evicted.",
    )
    max_watches: int = Field(
        default=64,
        ge=1,
        description="Watches kept across all datasets; the least recently seen is evicted.",
    )

    @model_validator(mode="after")
    def _registry_key(self) -> MonitorSettings:
        self.registry_verifier("the drift monitor verifies the promotions it watches")
        return self

    def configs(self) -> PerDataset:
        """Each dataset's detection configuration: these settings, or a registration's
        overrides of them (MonitoringOverrides, applied by registrations.py)."""
        limits = Limits(
            versions_per_dataset=self.versions_per_dataset, max_watches=self.max_watches
        )
        return PerDataset(self.watch_config(), limits, self.watch_config)

    def watch_config(self, overrides: Mapping[str, Any] | None = None) -> WatchConfig:
        """The configuration of a dataset whose registration sets `overrides` (validated
        already by contracts' MonitoringOverrides, with the bounds of these fields)."""
        s = self.model_copy(update=dict(overrides)) if overrides else self
        return WatchConfig(
            windows=DriftConfig(
                window_size=s.window_size,
                window_step=s.window_step,
                alpha=s.alpha,
                consecutive=s.consecutive_windows,
                alpha_strict=s.alpha_strict,
                min_effect_numeric=s.min_effect_numeric,
                min_effect_categorical=s.min_effect_categorical,
            ),
            performance=PerformanceConfig(
                window=s.label_window,
                min_labels=s.min_labels,
                max_drop=s.max_accuracy_drop,
                adwin_delta=s.adwin_delta,
                min_error_increase=s.min_error_increase,
            ),
            public_url=s.public_url,
        )
