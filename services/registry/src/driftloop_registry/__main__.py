"""python -m driftloop_registry"""

from driftloop_core.runtime import serve

from .bootstrap import build_app
from .settings import RegistrySettings


def main() -> None:
    serve("registry", RegistrySettings(), build_app)


if __name__ == "__main__":
    main()
