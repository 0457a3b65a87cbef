"""Which process made something, whether that process still runs, and how a stage is asked to stop.

A stage marks what it leaves behind while it works (its MLflow run, its staging folder) with its
host, pid and the pid's start time; the next start of the stage cleans up only what a process
that is gone left (killed with SIGKILL, or a machine that went down), never a live run's files.
The start time guards against a pid the system has since given to another process.
"""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (state first), [] where there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux /proc), '' where unknown."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22 of proc(5)


def identity(pid: int | None = None) -> dict[str, str]:
    pid = os.getpid() if pid is None else pid
    return {"host": socket.gethostname(), "pid": str(pid), "started": start_ticks(pid)}


def is_gone(host: str, pid: str | int, started: str = "") -> bool:
    """True only when the process is certainly gone: same host, and no process with that pid
    (or one started at another time). A process on another host is never declared gone."""
    if host != socket.gethostname():
        return False
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat(pid)
    if fields and fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return True
    return bool(started) and start_ticks(pid) not in ("", started)


class Interrupted(BaseException):
    """SIGTERM or SIGINT reached the stage: unwind (closing its MLflow run as KILLED, removing its
    staging folder) and exit 128 + signal, never 0. A BaseException, like KeyboardInterrupt, so
    that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)


# Packages whose work a signal must not cut in two: raised inside a write to the MLflow store, the
# exception left that write's SQLite transaction open, so the stage's own "KILLED" then waited on
# the lock it held itself ("database is locked") and its run stayed RUNNING.
_ATOMIC_PACKAGES = ("sqlalchemy", "sqlite3")
DEFER_S, DEFER_MAX_S = 0.05, 5.0
_deferred_since: float | None = None


def _in_atomic_work(frame) -> bool:
    import sys

    roots = tuple(os.path.dirname(m.__file__) + os.sep for name in _ATOMIC_PACKAGES
                  if (m := sys.modules.get(name)) is not None and getattr(m, "__file__", None))
    while frame is not None and roots:
        if frame.f_code.co_filename.startswith(roots):
            return True
        frame = frame.f_back
    return False


def _redeliver(signum: int) -> None:
    import threading

    timer = threading.Timer(DEFER_S, lambda: signal.pthread_kill(threading.main_thread().ident, signum))
    timer.daemon = True
    timer.start()


def _raise_interrupted(signum, frame) -> None:
    global _deferred_since
    import time

    if _in_atomic_work(frame):  # finish the store write first (at most DEFER_MAX_S), then stop
        _deferred_since = _deferred_since or time.monotonic()
        if time.monotonic() - _deferred_since < DEFER_MAX_S:
            _redeliver(signum)
            return
    raise stopping(signum)


def stopping(signum: int) -> Interrupted:
    """The Interrupted to raise for `signum`, once: a second SIGINT/SIGTERM (Ctrl-C to dvc and the
    stage, dvc passing it on) must not abort the cleanup the first one started; SIGKILL still ends
    the process."""
    for other in (signal.SIGTERM, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    return Interrupted(signum)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT raise Interrupted in the main thread. Lightning's Trainer chains a handler
    installed before it (it only notes SIGTERM and would then exit 0 with nothing written)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_interrupted)
