"""`mlflow server` over a given store, on a free loopback port, for the length of a `with`."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_ui(store_uri: str, log: Path, timeout: float = 180) -> Iterator[str]:
    """Yield the UI's base URL once /health answers; stop the server (only this one) after.
    A running server (an http(s):// tracking URI, e.g. the team server) is its own UI."""
    if store_uri.startswith(("http://", "https://")):
        yield store_uri
        return
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(mlflow), "server", "--backend-store-uri", store_uri, "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "1"], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise TimeoutError(f"mlflow server not up after {timeout}s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
