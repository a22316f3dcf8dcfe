"""What may be loaded from a skops file: an explicit list of types, plus the modules a
deployment trusts by configuration.

skops reads a JSON tree of the objects and refuses every type it does not trust *before* it
imports or constructs anything; nothing is unpickled. It trusts by default Python's primitives
and containers, numpy arrays, scipy sparse matrices and scikit-learn's estimators and
transformers. `TRUSTED_TYPES` adds what the models here need beyond that, and nothing else:
the test tests/unit/test_artifact_trust.py derives it from every family of the trainer's
catalogue (classification and regression, behind the usual preprocessing) and from the
estimators uploads are tested with (`UPLOAD_ESTIMATORS`), so the list cannot rot either way.

A user's entry-point model may hold classes of the user's own package: their types are
trusted when a prefix in `DRIFTLOOP_TRUSTED_MODULES` covers their module (configuration of
the process that loads, never something an artifact can say about itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ArtifactError, UntrustedTypes
from .trees import check_trees

TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",  # the dtype parameters of SimpleImputer and OneHotEncoder
    # The node storage of DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting* and
    # AdaBoost over trees. skops leaves these out of its defaults: a crafted file with
    # out-of-range node indices can crash predict. trees.py checks every one at load.
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # HistGradientBoosting*
)

#: The scikit-learn estimators an uploaded model may end with, beyond the catalogue's
#: families, that need nothing outside TRUSTED_TYPES (tested). Others (k-nearest neighbours,
#: neural networks, other libraries) are refused by name until their module is trusted.
UPLOAD_ESTIMATORS: tuple[str, ...] = (
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn.linear_model.LinearRegression",
    "sklearn.linear_model.SGDClassifier",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.svm.SVC",
    "sklearn.svm.SVR",
    "sklearn.tree.DecisionTreeClassifier",
    "sklearn.tree.DecisionTreeRegressor",
    "sklearn.ensemble.ExtraTreesClassifier",
    "sklearn.ensemble.GradientBoostingClassifier",
    "sklearn.ensemble.GradientBoostingRegressor",
    "sklearn.ensemble.AdaBoostClassifier",
)


def parse_modules(spec: str | Iterable[str]) -> tuple[str, ...]:
    """`DRIFTLOOP_TRUSTED_MODULES`: comma-separated module prefixes (blanks ignored)."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return tuple(m.strip().strip(".") for m in items if m.strip().strip("."))


def covered(type_name: str, modules: Sequence[str]) -> bool:
    """Whether a prefix covers the type's module: `my_models` covers `my_models.churn.Clip`
    but not `my_models_other.X`."""
    return any(type_name.startswith(f"{m}.") for m in modules)


def refused_types(types: Iterable[str], modules: Sequence[str]) -> list[str]:
    """The types neither in TRUSTED_TYPES nor under a trusted module."""
    return sorted({t for t in types if t not in TRUSTED_TYPES and not covered(t, modules)})


def load_trusted(data: bytes, modules: Sequence[str], what: str) -> Any:
    """The object a skops file holds, if every type in it is trusted and its trees are sound
    (trees.py); UntrustedTypes naming the others (nothing of the file constructed),
    ArtifactError if it is not a skops file."""
    obj = _load(data, modules, what)
    check_trees(obj)
    return obj


def _skops() -> Any:
    """skops.io, imported on first use: importing it walks every scikit-learn module (~4 s of
    a service's start on a small machine), and a service starts before it loads a model."""
    import skops.io

    return skops.io


def _load(data: bytes, modules: Sequence[str], what: str) -> Any:
    sio = _skops()
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException:
        pass  # maybe types of a trusted module: name them, then decide
    except Exception as exc:  # not a skops file, truncated, a class this process lacks
        raise ArtifactError(f"{what} is not a loadable skops file: {_why(exc)}") from exc
    found = _untrusted(data, what)
    refused = refused_types(found, modules)
    if refused:
        raise UntrustedTypes(what, refused)
    try:
        return sio.loads(data, trusted=[*TRUSTED_TYPES, *found])
    except Exception as exc:  # e.g. the trusted module is not installed here
        raise ArtifactError(f"{what} could not be loaded: {_why(exc)}") from exc


def check_storable(obj: Any, modules: Sequence[str], what: str) -> None:
    """Whether `obj` saved with skops would load again here (the registry's and predictor's
    load path): UntrustedTypes naming what would be refused, ArtifactError if skops cannot
    save it at all."""
    try:
        data = _skops().dumps(obj)
    except Exception as exc:
        raise ArtifactError(f"{what} cannot be saved with skops: {_why(exc)}") from exc
    refused = refused_types(_untrusted(data, what), modules)
    if refused:
        raise UntrustedTypes(what, refused)


def _untrusted(data: bytes, what: str) -> list[str]:
    try:
        return list(_skops().get_untrusted_types(data=data))
    except Exception as exc:
        raise ArtifactError(f"{what} is not a loadable skops file: {_why(exc)}") from exc


def _why(exc: Exception) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
