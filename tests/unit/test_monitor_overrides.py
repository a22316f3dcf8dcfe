"""The drift monitor's per-dataset settings: a registration's `monitoring` overrides the
defaults for that dataset only; overrides it cannot use are refused and counted, never fatal."""

from __future__ import annotations

from driftloop_contracts import DatasetRegistered, DatasetSchema
from driftloop_contracts.specs import MonitoringOverrides
from driftloop_drift_monitor.registrations import apply_registration
from driftloop_drift_monitor.settings import MonitorSettings
from prometheus_client import REGISTRY

SCHEMA = DatasetSchema.model_validate(
    {
        "name": "houses",
        "features": [{"name": "rooms", "kind": "numeric"}],
        "target": {"name": "price", "kind": "regression"},
    }
)


def registration(**monitoring: float) -> DatasetRegistered:
    return DatasetRegistered(
        producer="t", dataset="houses", dataset_schema=SCHEMA, monitoring=monitoring
    )


def refused() -> float:
    return REGISTRY.get_sample_value("driftloop_monitor_overrides_refused_total") or 0.0


def test_every_override_is_a_monitor_setting_with_the_same_bounds() -> None:
    settings = MonitorSettings.model_fields
    for name, field in MonitoringOverrides.model_fields.items():
        assert name in settings, f"{name} is not a MONITOR_ setting"
        assert field.metadata == settings[name].metadata, f"bounds of {name} differ"


def test_a_dataset_with_overrides_gets_them_and_the_others_keep_the_defaults() -> None:
    configs = MonitorSettings().configs()
    apply_registration(configs, registration(window_size=100, max_accuracy_drop=0.2, alpha=0.05))
    houses = configs.of("houses")
    assert houses.windows.window_size == 100 and houses.windows.alpha == 0.05
    assert houses.performance.max_drop == 0.2
    assert houses.windows.consecutive == MonitorSettings().consecutive_windows
    assert configs.of("demo").windows.window_size == MonitorSettings().window_size


def test_a_registration_without_overrides_returns_the_dataset_to_the_defaults() -> None:
    configs = MonitorSettings(window_size=300).configs()
    apply_registration(configs, registration(window_size=100))
    apply_registration(configs, registration())
    assert configs.of("houses").windows.window_size == 300


def test_unusable_overrides_are_counted_and_the_dataset_keeps_its_configuration() -> None:
    configs = MonitorSettings().configs()
    apply_registration(configs, registration(window_size=100))
    before = refused()
    apply_registration(configs, registration(windw=50))
    apply_registration(configs, registration(window_size=3))
    assert refused() == before + 2
    assert configs.of("houses").windows.window_size == 100
