"""A team tracking server for tests: PostgreSQL (Debian's package) as MLflow's backend store and
`mlflow server` with its artifact proxy and MLflow's basic-auth app (logins), both on loopback
ports, stopped after the `with`.

What a team runs on one host, shrunk (docs/security.md, "MLflow"): `initdb` + `postgres`
(listen_addresses=127.0.0.1), `createdb mlflow` and `createdb mlflow_auth`, an auth config whose
database is the latter, `MLFLOW_AUTH_ADMIN_PASSWORD=... mlflow server --app-name basic-auth
--backend-store-uri postgresql://... --artifacts-destination <folder> --serve-artifacts`; the admin
adds users (pipeline.core.mlflow_access); every stage then logs through MLFLOW_TRACKING_URI=http://...
as the user of MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
"""
from __future__ import annotations

import contextlib
import glob
import os
import secrets
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
        for database in ("mlflow", "mlflow_auth"):  # runs and models; users and permissions
            _as_pg([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, database])
        yield f"postgresql://{PG_USER}@127.0.0.1:{port}/mlflow"
    finally:
        _as_pg([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


# The deployment of docs/security.md: accepted passwords cached (a scrypt check is ~70 ms of CPU per
# request) on one server process, so that a password change is refused from the next request.
AUTH_INI = """[mlflow]
default_permission = READ
database_uri = {database}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
"""
USERS = ("pipeline", "reviewer")  # pipeline: runs the stages (owns what it creates); reviewer: default READ only


@contextlib.contextmanager
def mlflow_server(backend: str, artifacts: Path, log: Path, admin_password: str, timeout: float = 180) -> Iterator[str]:
    """`mlflow server --app-name basic-auth` over `backend` with the artifact proxy (artifacts under
    `artifacts`), users and permissions in the `mlflow_auth` database beside `backend`, admin
    `admin` with `admin_password`; yields its http:// URL once /health answers, and stops it."""
    ini = log.with_name("basic_auth.ini")
    ini.write_text(AUTH_INI.format(database=backend.rsplit("/", 1)[0] + "/mlflow_auth"))
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
           "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)}
    args = ["--app-name", "basic-auth", "--backend-store-uri", backend, "--serve-artifacts",
            "--artifacts-destination", str(artifacts)]
    with serve_mlflow(args, log, timeout, workers=1, env=env) as url:
        yield url


@contextlib.contextmanager
def as_user(server: dict | None, name: str | None) -> Iterator[None]:
    """MLFLOW_TRACKING_USERNAME / _PASSWORD of user `name` of `server` for the length of the `with`
    (None: no credentials at all, an anonymous client)."""
    keys = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    saved = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ.pop(k, None)
    if name is not None:
        os.environ.update(zip(keys, (name, server["passwords"][name])))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def credentials(server: dict, name: str) -> dict[str, str]:
    """The environment variables a process of user `name` logs in with."""
    return {"MLFLOW_TRACKING_USERNAME": name, "MLFLOW_TRACKING_PASSWORD": server["passwords"][name]}


@contextlib.contextmanager
def team_server() -> Iterator[dict]:
    """PostgreSQL + mlflow server with logins; yields {"url", "backend", "artifacts", "folder",
    "passwords": {user: password}} (users admin, pipeline, reviewer)."""
    from pipeline.core.mlflow_access import add_user

    folder = Path(tempfile.mkdtemp(prefix="team-mlflow-", dir="/tmp"))  # the postgres user must reach it
    os.chmod(folder, 0o755)
    passwords = {name: secrets.token_urlsafe(16) for name in ("admin", *USERS)}
    try:
        with postgres(folder / "db") as backend:
            artifacts = folder / "artifacts"
            with mlflow_server(backend, artifacts, folder / "mlflow.log", passwords["admin"]) as url:
                server = {"url": url, "backend": backend, "artifacts": artifacts, "folder": folder,
                          "passwords": passwords}
                with as_user(server, "admin"):
                    for name in USERS:
                        add_user(url, name, passwords[name])
                yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)
