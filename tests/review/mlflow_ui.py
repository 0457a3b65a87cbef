"""`mlflow server` over a given store, on a free loopback port, for the length of a `with`."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.servers import serve_mlflow


@contextlib.contextmanager
def mlflow_ui(store_uri: str, log: Path, timeout: float = 180) -> Iterator[str]:
    """Yield the UI's base URL once /health answers; stop the server (only this one) after.
    A running server (an http(s):// tracking URI, e.g. the team server) is its own UI."""
    if store_uri.startswith(("http://", "https://")):
        yield store_uri
        return
    with serve_mlflow(["--backend-store-uri", store_uri], log, timeout) as base:
        yield base
