"""A team tracking server for tests: PostgreSQL (Debian's package) as MLflow's backend store and
`mlflow server` with its artifact proxy, both on loopback ports, stopped after the `with`.

What a team runs on one host, shrunk: `initdb` + `postgres` (listen_addresses=127.0.0.1),
`createdb mlflow`, `mlflow server --backend-store-uri postgresql://... --artifacts-destination
<folder> --serve-artifacts`; every stage then logs through MLFLOW_TRACKING_URI=http://...
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.servers import free_port, serve_mlflow

PG_USER = "postgres"  # Debian's package creates this account; PostgreSQL refuses to run as root


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def missing() -> str | None:
    """Why the server cannot run here, or None."""
    import importlib.util

    if postgres_bin() is None:
        return "PostgreSQL not installed (Debian: apt-get install -y postgresql; .ci/run installs it)"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg not installed (`make cluster`)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as its own user"
    return None


def _as_pg(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", PG_USER, "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[str]:
    """A fresh PostgreSQL cluster in `folder` with a database `mlflow`; yields its SQLAlchemy URI."""
    bin_dir, port = postgres_bin(), free_port()
    data = folder / "pgdata"
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(folder, PG_USER)
        shutil.chown(data, PG_USER)
    _as_pg([str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8"])
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"  # a test store: speed over durability
    _as_pg([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "postgres.log"), "-w", "start"])
    try:
        _as_pg([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "mlflow"])
        yield f"postgresql://{PG_USER}@127.0.0.1:{port}/mlflow"
    finally:
        _as_pg([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


@contextlib.contextmanager
def mlflow_server(backend: str, artifacts: Path, log: Path, timeout: float = 180) -> Iterator[str]:
    """`mlflow server` over `backend` with the artifact proxy (artifacts under `artifacts`);
    yields its http:// URL once /health answers, and stops this server only."""
    args = ["--backend-store-uri", backend, "--serve-artifacts", "--artifacts-destination", str(artifacts)]
    with serve_mlflow(args, log, timeout, workers=2) as url:
        yield url


@contextlib.contextmanager
def team_server() -> Iterator[dict]:
    """PostgreSQL + mlflow server; yields {"url", "backend", "artifacts", "folder"}."""
    folder = Path(tempfile.mkdtemp(prefix="team-mlflow-", dir="/tmp"))  # the postgres user must reach it
    os.chmod(folder, 0o755)
    try:
        with postgres(folder / "db") as backend:
            artifacts = folder / "artifacts"
            with mlflow_server(backend, artifacts, folder / "mlflow.log") as url:
                yield {"url": url, "backend": backend, "artifacts": artifacts, "folder": folder}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
