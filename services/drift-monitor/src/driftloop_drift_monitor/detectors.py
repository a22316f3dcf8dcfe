"""Pure drift detection, the public face: windows of live data against the reference profile
(windows.py, with the tests in evidence.py), the error stream against the accuracy the model
was promoted with (performance.py), and where a change began (onsets.py)."""

from .evidence import chi2_test, ks_test, psi
from .onsets import change_point, shift_point
from .performance import PerformanceConfig, PerformanceDetector
from .windows import DriftConfig, Finding, WindowDetector

__all__ = [
    "DriftConfig",
    "Finding",
    "PerformanceConfig",
    "PerformanceDetector",
    "WindowDetector",
    "change_point",
    "chi2_test",
    "ks_test",
    "psi",
    "shift_point",
]
