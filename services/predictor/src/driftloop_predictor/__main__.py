"""python -m driftloop_predictor"""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import PredictorSettings


def main() -> None:
    settings = PredictorSettings()
    serve(
        "predictor",
        settings,
        build_app,
        workers=settings.workers,
        factory="driftloop_predictor.bootstrap:app_from_environment",
    )


if __name__ == "__main__":
    main()
