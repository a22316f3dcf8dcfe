"""python -m driftloop_predictor"""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import PredictorSettings


def main() -> None:
    serve("predictor", PredictorSettings(), build_app)


if __name__ == "__main__":
    main()
