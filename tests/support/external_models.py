"""Models trained outside driftloop, as the files a user would upload."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import joblib
import numpy as np
import skops.io as sio
import uvicorn
from driftloop_ml import feature_matrix
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.training import build_pipeline

from .data import labelled_rows
from .wait import eventually_sync


def fitted_elsewhere(estimator: Any, seed: int = 21) -> Any:
    """`estimator` fitted (behind the usual preprocessing) on scenario rows."""
    rows = labelled_rows(600, seed=seed)
    x = feature_matrix(SCHEMA, [r.features for r in rows])
    return build_pipeline(SCHEMA, estimator).fit(x, np.array([r.label for r in rows]))


def model_file(estimator: Any, seed: int = 21) -> bytes:
    """A skops file of `estimator` fitted elsewhere: what a user uploads."""
    return sio.dumps(fitted_elsewhere(estimator, seed))


def joblib_file(estimator: Any, seed: int = 21) -> bytes:
    """A joblib dump of the same: accepted only where the trainer allows pickles."""
    buffer = io.BytesIO()
    joblib.dump(fitted_elsewhere(estimator, seed), buffer)
    return buffer.getvalue()


def free_base_port() -> int:
    """A base port whose +1..+5 are free now (the CLI finds services at base+1..base+5)."""
    for base in range(23000, 60000, 17):
        try:
            for offset in range(1, 6):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports")


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """Run an ASGI app with uvicorn on 127.0.0.1:port in a thread, for clients over TCP."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        eventually_sync(lambda: server.started, timeout=30, what=f"a server on port {port}")
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)
