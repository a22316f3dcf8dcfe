"""python -m driftloop_drift_monitor"""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import MonitorSettings


def main() -> None:
    serve("drift-monitor", MonitorSettings(), build_app)


if __name__ == "__main__":
    main()
