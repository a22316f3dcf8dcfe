"""python -m driftloop_trainer"""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import TrainerSettings


def main() -> None:
    serve("trainer", TrainerSettings(), build_app)


if __name__ == "__main__":
    main()
