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
import sys
import threading
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
# the lock it held itself ("database is locked") and its run stayed RUNNING. A signal that lands
# there is raised where the outermost of their calls returns (a trace on that one frame), so the
# write ends and its session is closed by its caller as for any error; after DEFER_MAX_S, or at a
# second signal, it is raised wherever the stage is.
_ATOMIC_PACKAGES = ("sqlalchemy", "sqlite3")
DEFER_MAX_S = 5.0
_deferred: dict | None = None


def _outermost_atomic(frame):
    """The outermost frame of the stack that runs code of _ATOMIC_PACKAGES, or None."""
    roots = tuple(os.path.dirname(m.__file__) + os.sep for name in _ATOMIC_PACKAGES
                  if (m := sys.modules.get(name)) is not None and getattr(m, "__file__", None))
    outer = None
    while frame is not None and roots:
        if frame.f_code.co_filename.startswith(roots):
            outer = frame
        frame = frame.f_back
    return outer


def _defer(signum: int, outer) -> None:
    """Raise Interrupted(signum) where `outer` returns; re-send the signal after DEFER_MAX_S."""
    global _deferred
    previous = sys.gettrace()

    def at_return(frame, event, _arg):
        if event == "return" and frame is outer:
            _undefer()
            raise stopping(signum)
        return at_return

    timer = threading.Timer(DEFER_MAX_S, signal.pthread_kill, (threading.main_thread().ident, signum))
    timer.daemon = True
    _deferred = {"frame": outer, "previous": previous, "timer": timer}
    outer.f_trace_lines = False
    outer.f_trace = at_return
    sys.settrace(previous or (lambda *_: None))  # events on: the frames started from now on stay untraced
    timer.start()


def _undefer() -> None:
    global _deferred
    if _deferred is not None:
        _deferred["timer"].cancel()
        _deferred["frame"].f_trace = None
        sys.settrace(_deferred["previous"])
        _deferred = None


def _raise_interrupted(signum, frame) -> None:
    if _deferred is None and (outer := _outermost_atomic(frame)) is not None:
        _defer(signum, outer)
        return
    _undefer()  # a second signal, or the time is up: stop here
    raise stopping(signum)


def stopping(signum: int) -> Interrupted:
    """The Interrupted to raise for `signum`, once: a second SIGINT/SIGTERM (Ctrl-C to dvc and the
    stage, dvc passing it on) must not abort the cleanup the first one started; SIGKILL still ends
    the process."""
    for other in (signal.SIGTERM, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    return Interrupted(signum)


def _resend(signum: int) -> None:
    """Take SIGTERM/SIGINT again and send `signum` to the main thread from another thread, so that
    it is handled afresh once the main thread is back in ordinary code."""
    for other in (signal.SIGTERM, signal.SIGINT):
        signal.signal(other, _raise_interrupted)
    timer = threading.Timer(0.05, signal.pthread_kill, (threading.main_thread().ident, signum))
    timer.daemon = True
    timer.start()


def _take_back_swallowed(unraisable) -> None:
    """sys.unraisablehook: an Interrupted raised where Python ignores exceptions is lost, its
    signals already ignored, and the stage would run on (seen: the deferred raise landed where
    SQLAlchemy's InstanceState._cleanup returned, a weakref callback run by the garbage
    collector). Raise it again: the signal re-sent. Anything else goes to the hook before."""
    if isinstance(unraisable.exc_value, Interrupted) and threading.current_thread() is threading.main_thread():
        _resend(unraisable.exc_value.signum)
        return
    _hook_before(unraisable)


_hook_before = sys.unraisablehook


def stop_on_signals() -> None:
    """SIGTERM and SIGINT raise Interrupted in the main thread. Lightning's Trainer chains a handler
    installed before it (it only notes SIGTERM and would then exit 0 with nothing written)."""
    global _hook_before
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_interrupted)
    if sys.unraisablehook is not _take_back_swallowed:
        _hook_before, sys.unraisablehook = sys.unraisablehook, _take_back_swallowed
