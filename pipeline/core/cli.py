"""How every stage's entry point starts and ends.

- SIGTERM and SIGINT stop the stage (pipeline/core/processes.Interrupted): its MLflow run ends
  KILLED, its staging folder goes, and it exits 128 + the signal (130, 143), never 0, so DVC
  records nothing for it.
- An expected error (bad config, bad input file, no solver, an infeasible instance: anything a
  user can fix) prints one line, `<stage>: error: <what, where, which key>`, and exits 1. The
  traceback is for developers: `--debug` or PIPELINE_DEBUG=1 shows it. Any other exception is a
  bug and keeps its traceback.
- A tracking server with logins that refuses the stage (HTTP 401: no or wrong credentials; 403:
  no permission) is an expected error too: one line naming the user and what to set.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator

from pipeline.core.processes import Interrupted, stop_on_signals
from pipeline.core.staging import OutputsNotMovedError

DEBUG_ENV = "PIPELINE_DEBUG"
DEBUG_FLAG = "--debug"
# Errors that describe the user's input or settings. Stages add their own (e.g. the solver's).
EXPECTED: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, NotADirectoryError,
                                            PermissionError, OutputsNotMovedError)


def stage_parser(description: str, overrides: bool = True) -> argparse.ArgumentParser:
    """The command line every stage shares: Hydra overrides of params.yaml (pipeline/core/overrides.py)
    and `--params FILE`; a stage adds its own words (a kind, a command) in front."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="overrides (Hydra's grammar, on params.yaml): key=value, group=option (conf/<group>/<option>.yaml), "
               f"+key=value.\n{DEBUG_FLAG} (or {DEBUG_ENV}=1) shows the traceback of an expected error.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    if overrides:
        parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model.fault.max_epochs=5 solver=gurobi")
    return parser


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def take_debug_flag(argv: list[str]) -> list[str]:
    """argv without --debug; the flag sets PIPELINE_DEBUG for this process and its children."""
    if DEBUG_FLAG in argv:
        os.environ[DEBUG_ENV] = "1"
    if debugging():
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # Hydra apps (the optimiser): the whole stack
    return [a for a in argv if a != DEBUG_FLAG]


def access_refused(exc: BaseException) -> str | None:
    """One line when a tracking server with logins refused the request (HTTP 401 / 403), else None."""
    code = getattr(exc, "error_code", None)
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if code == "UNAUTHENTICATED":
        return ("the MLflow tracking server refused the request: not authenticated (set MLFLOW_TRACKING_USERNAME "
                "and MLFLOW_TRACKING_PASSWORD; docs/security.md)" if not user else
                f"the MLflow tracking server refused user {user!r}: wrong password (MLFLOW_TRACKING_PASSWORD)")
    if code == "PERMISSION_DENIED":
        return (f"the MLflow tracking server refused user {user!r}: no permission for this (an admin grants it: "
                "python -m pipeline.core.mlflow_access grant <user> EDIT; docs/security.md)")
    return None


def new_password(env: str, what: str) -> str:
    """A password to set for `what`: from $`env`, else asked twice on the terminal; ValueError otherwise."""
    import getpass

    password = os.environ.get(env)
    if password:
        return password
    if not sys.stdin.isatty():
        raise ValueError(f"no password for {what}: set ${env} or run in a terminal to be asked")
    first = getpass.getpass(f"password for {what}: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the two passwords differ")
    return first


def message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def expected_errors(stage: str, expected: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn an interruption into exit 128 + signal and an expected error into one line and exit 1."""
    try:
        yield
    except Interrupted as exc:
        print(f"{stage}: stopped by {exc} (nothing of this run was moved into place; rerun `dvc repro`)",
              file=sys.stderr)
        raise SystemExit(128 + exc.signum) from None
    except KeyboardInterrupt:
        print(f"{stage}: stopped by SIGINT (nothing of this run was moved into place; rerun `dvc repro`)",
              file=sys.stderr)
        raise SystemExit(130) from None
    except (*EXPECTED, *expected) as exc:
        if debugging():
            raise
        lines = message(exc).splitlines() or [""]
        print(f"{stage}: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"{stage}: error: {line}", file=sys.stderr)
        print(f"{stage}: (run with {DEBUG_FLAG} or {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as exc:
        refused = access_refused(exc)
        if refused is None or debugging():
            raise
        print(f"{stage}: error: {refused}", file=sys.stderr)
        print(f"{stage}: (run with {DEBUG_FLAG} or {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        raise SystemExit(1) from None


def run_stage(stage: str, main: Callable[[], object], expected: tuple[type[BaseException], ...] = ()) -> None:
    """The `if __name__ == "__main__"` of a stage: signals, --debug, expected errors."""
    sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    stop_on_signals()
    with expected_errors(stage, expected):
        main()
        # done and moved in: a signal during interpreter shutdown just ends the process (no traceback)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
