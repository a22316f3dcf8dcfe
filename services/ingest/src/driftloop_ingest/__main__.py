"""python -m driftloop_ingest: load settings, build the app, serve it."""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    serve("ingest", settings, build_app)


if __name__ == "__main__":
    main()
