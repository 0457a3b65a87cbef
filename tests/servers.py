"""Loopback servers for tests: a free port, and `mlflow server` for the length of a `with`
(the browser review's UI over a store, the team server with its artifact proxy)."""
from __future__ import annotations

import contextlib
import os
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
def serve_mlflow(store_args: list[str], log: Path, timeout: float = 180, workers: int = 1,
                 env: dict | None = None) -> Iterator[str]:
    """`mlflow server <store_args>` on a free loopback port (with `env`, default this process's,
    and never MLflow's background job runner: no test submits jobs, and it costs CPU); yields its
    URL once /health answers, then stops this server and its workers only."""
    env = {**(os.environ if env is None else env), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(mlflow), "server", *store_args, "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(workers)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise TimeoutError(f"mlflow server not up after {timeout}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)  # the next look at /health
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)  # the server and its gunicorn/uvicorn workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
