"""python -m driftloop_console"""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import ConsoleSettings


def main() -> None:
    serve("console", ConsoleSettings(), build_app)


if __name__ == "__main__":
    main()
