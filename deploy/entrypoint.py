"""Container entrypoint: run the service named by DRIFTLOOP_SERVICE on 0.0.0.0:$PORT.

Inside a container every service listens on PORT (default 8000) on all interfaces; outside,
each keeps its own prefixed settings. ``--healthcheck`` asks the local /healthz instead;
``--check`` imports the service's modules and exits (the image build runs it).
"""

import importlib
import os
import runpy
import sys
import urllib.request

SERVICES = {
    "ingest": ("driftloop_ingest", "INGEST_"),
    "trainer": ("driftloop_trainer", "TRAINER_"),
    "registry": ("driftloop_registry", "REGISTRY_"),
    "predictor": ("driftloop_predictor", "PREDICTOR_"),
    "drift-monitor": ("driftloop_drift_monitor", "MONITOR_"),
    "console": ("driftloop_console", "CONSOLE_"),
}


def main() -> None:
    service = os.environ["DRIFTLOOP_SERVICE"]
    module, prefix = SERVICES[service]
    port = os.environ.get("PORT", "8000")
    if "--check" in sys.argv:
        importlib.import_module(f"{module}.__main__")
        print(f"{service}: {module} imports")
        return
    if "--healthcheck" in sys.argv:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            sys.exit(0 if answer.status == 200 else 1)
    os.environ.setdefault(f"{prefix}HOST", "0.0.0.0")
    os.environ.setdefault(f"{prefix}PORT", port)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
