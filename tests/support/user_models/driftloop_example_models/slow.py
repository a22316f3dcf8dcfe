"""A user's model whose fit never ends on its own (for killing the trainer's worker mid-run):
it marks that it is fitting with a file named after its process, then waits to be killed."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from sklearn.dummy import DummyClassifier

#: How long the fit waits before giving up by itself (a test that forgot to kill it).
GIVE_UP_S = 60


def marker(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"driftloop-slow-fit-{pid}"


class Endless(DummyClassifier):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Endless:  # noqa: N803
        marker(os.getpid()).touch()
        threading.Event().wait(GIVE_UP_S)  # nothing sets it: only the kill ends this early
        raise TimeoutError("nobody killed the fit")


def make_estimator(schema: Any) -> Endless:
    return Endless()
