"""Starting and stopping the prediction service (`python -m pipeline.inventory serve`).

Everything that can fail is tried before "serving" is printed, and fails in one line naming the
setting: the bearer token (serve.auth), whether the address may be served open, the model
(fetched from the registry once and checked to carry the loader's limits), the port (bound here,
so a taken or impossible port is an error, not a log line after "serving"). Then uvicorn runs
the app on that socket: in this process (serve.workers = 1) or in worker processes that share
it, each loading the fetched model from the same local folder. SIGTERM or Ctrl-C stop it
gracefully with one line and exit 0 (a service stopped on request has done its job).

Tokens: `Authorization: Bearer <token>` with the token from the environment variable named by
serve.auth.token_env or from serve.auth.token_file (never from conf/ itself, never printed).
Without a token the service starts only when asked to run open (--open or serve.auth.open),
and only on a loopback address.
"""
from __future__ import annotations

import gc
import ipaddress
import json
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import FastAPI

from pipeline.inventory import forecast_request as fr
from pipeline.inventory.bundle import EXTRA
from pipeline.inventory.forecaster import ServedUsageForecaster
from pipeline.inventory.service import ServiceSettings, create_app

LABEL = "inventory service"
WORKER_ENV = "PIPELINE_INVENTORY_WORKER"   # what a worker process loads (JSON, set by serve for its workers)
# A token as an HTTP header carries it: printable ASCII without spaces, long enough not to be guessed.
TOKEN = re.compile(r"[\x21-\x7e]{16,}")
TOKEN_HINT = "at least 16 printable characters without spaces, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Stopped(Exception):
    """SIGTERM or SIGINT asked the service to stop."""


def read_token(auth: Mapping) -> str | None:
    """The bearer token from serve.auth.token_file, else from the variable serve.auth.token_env;
    None when neither holds one. A token that is too short or unprintable is an error."""
    file, variable = auth.get("token_file"), str(auth["token_env"])
    if file:
        path = Path(str(file)).expanduser()
        try:
            text, source = path.read_text().strip(), f"serve.auth.token_file {path}"
        except OSError as exc:
            raise ValueError(f"serve.auth.token_file {path}: cannot read it ({exc.strerror})") from None
        if path.stat().st_mode & 0o077:
            print(f"{LABEL}: warning: {path} is readable by other users (chmod 600 it)", file=sys.stderr)
    else:
        text, source = os.environ.get(variable, "").strip(), f"${variable} (serve.auth.token_env)"
        if not text:
            return None
    if not TOKEN.fullmatch(text):
        raise ValueError(f"{source}: not a usable token: {TOKEN_HINT}")
    return text


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in found)


def check_exposure(host: str, token: str | None, open_: bool, token_env: str) -> None:
    """An open service (no token) only on loopback, and only when asked for; otherwise a token."""
    where = f"serve.host {host!r}"
    if open_ and not is_loopback(host):
        raise ValueError(f"{where} is not a loopback address: an open service (--open, serve.auth.open) serves "
                         f"loopback only; give it a bearer token (${token_env} or serve.auth.token_file)")
    if not open_ and token is None:
        raise ValueError(f"no bearer token for {where}: set ${token_env} or serve.auth.token_file ({TOKEN_HINT}), "
                         "or start it open on loopback with --open")


def bind(host: str, port: int, shared: bool = False) -> socket.socket:
    """A listening-ready socket on host:port, or one line saying why not. `shared`: with
    SO_REUSEPORT, so that each worker can have its own socket on the port and the kernel spreads
    new connections over them (one socket shared by all lets whichever worker wakes first accept
    a whole burst while the other idles: measured 0.66 s against 0.02 s of CPU in one burst)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"serve.port = {port!r}: allowed a whole number from 1 to 65535 (--port)")
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError, UnicodeError) as exc:
        sock.close()
        why = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"cannot serve on {host}:{port}: {why} (serve.host, serve.port; --host, --port)") from None
    sock.set_inheritable(True)
    return sock


def worker_sockets(host: str, port: int, workers: int, probe: socket.socket) -> list[socket.socket]:
    """One SO_REUSEPORT socket per worker on the port `probe` holds (bound without SO_REUSEPORT, so
    that a port any other process holds, even another copy of this service, was refused there)."""
    probe.close()
    return [bind(host, port, shared=True) for _ in range(workers)]


@dataclass(frozen=True)
class Launch:
    """What every worker needs to build the same app: the fetched bundle and the settings."""
    folder: str
    name: str
    version: str
    uri: str
    max_body_bytes: int
    threads: int
    limits: dict
    token: bool          # True: each worker reads the token itself from `auth`
    auth: dict

    def settings(self) -> ServiceSettings:
        return ServiceSettings(self.max_body_bytes, self.threads, fr.RequestLimits(**self.limits),
                               read_token(self.auth) if self.token else None)

    def model(self) -> ServedUsageForecaster:
        return ServedUsageForecaster.from_folder(Path(self.folder), self.name, self.version, self.uri)


def app_from_environment() -> FastAPI:
    """uvicorn's app factory in a worker process: the app the parent described in WORKER_ENV."""
    launch = Launch(**json.loads(os.environ[WORKER_ENV]))
    app = create_app(launch.model(), launch.settings())
    gc.collect()
    gc.freeze()  # what start-up loaded stays out of every later collection
    return app


def _stop(signum: int, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def serve(serve_cfg: Mapping, model_uri: str, host: str, port: int, workers: int, open_: bool) -> None:
    """Check everything, bind, say "serving", run until SIGTERM/SIGINT."""
    import uvicorn

    from pipeline.core import registry

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    auth = dict(serve_cfg["auth"])
    try:
        token = None if open_ else read_token(auth)
        check_exposure(host, token, open_, str(auth["token_env"]))
        sock = bind(host, port)  # held from here on: a taken port fails before the model is fetched
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        with sock, tempfile.TemporaryDirectory(prefix="inventory-service-") as tmp:
            fetched = registry.fetch(model_uri, dst=Path(tmp))
            launch = Launch(str(fetched.path / EXTRA), fetched.name, fetched.version, model_uri,
                            int(float(serve_cfg["max_body_mb"]) * 1e6), int(serve_cfg["threads"]),
                            asdict(fr.RequestLimits.from_config(serve_cfg["limits"])), token is not None, auth)
            model = launch.model()  # a bundle without the loader's limits stops here
            door = "open: no token, loopback only" if token is None else "bearer token required"
            print(f"{LABEL}: serving {model.name} version {model.version} ({model_uri}) on http://{host}:{port} "
                  f"(docs: /docs; {workers} worker(s) x {launch.threads} thread(s); {door})", flush=True)
            stopped_by = _run(launch, model, sock, host, port, workers, uvicorn)
    except Stopped as exc:
        stopped_by = str(exc)
    print(f"{LABEL}: stopped by {stopped_by}", file=sys.stderr, flush=True)


def _run(launch: Launch, model: ServedUsageForecaster, sock: socket.socket, host: str, port: int, workers: int, uvicorn) -> str:
    """uvicorn on the bound socket until a signal; returns the signal's name."""
    if workers == 1:
        config = uvicorn.Config(create_app(model, launch.settings()), host=host, port=port, log_level="warning")
        del model
        gc.collect()
        gc.freeze()
        try:
            uvicorn.Server(config).run(sockets=[sock])  # re-raises the signal it caught: Stopped
        except Stopped as exc:
            return str(exc)
        return "the server itself (see its log above)"
    from uvicorn.supervisors import Multiprocess
    from uvicorn.supervisors.multiprocess import Process

    class Workers(Multiprocess):
        """uvicorn's supervisor, each worker on its own socket (a restarted worker gets them all)."""
        stopped_by = "the server itself (see its log above)"

        def init_processes(self) -> None:
            for own in self.sockets:
                process = Process(self.config, [own])
                process.start()
                self.processes.append(process)

        def handle_int(self) -> None:
            self.stopped_by = "SIGINT"
            super().handle_int()

        def handle_term(self) -> None:
            self.stopped_by = "SIGTERM"
            super().handle_term()

    os.environ[WORKER_ENV] = json.dumps(asdict(launch))
    config = uvicorn.Config("pipeline.inventory.server:app_from_environment", factory=True, host=host, port=port,
                            workers=workers, log_level="warning")
    sockets = worker_sockets(host, port, workers, sock)
    try:
        supervisor = Workers(config, sockets=sockets)
        supervisor.run()
    finally:
        for own in sockets:
            own.close()
    return supervisor.stopped_by
