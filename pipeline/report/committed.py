"""The committed figures (git HEAD) beside this run's: after a retrain on another machine, or
before the results are committed, the page shows both wherever a result moved."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from pipeline.core.tracking import flatten

# Wall-clock figures change every run; they are not results.
TIMING = re.compile(r"(^|[._/])(seconds|wall_s|windows_per_s|build_seconds|cut_seconds)$|_seconds$|seconds\.")
RELATIVE_TOLERANCE = 1e-6  # the page prints 6 significant digits: a closer pair would look the same


def committed_metrics(root: Path, path: Path) -> dict | None:
    """Flat metrics of `path` as git HEAD holds it; None outside git or when HEAD lacks the file."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:  # reports/ outside the repository (tests): nothing committed to compare with
        return None
    shown = subprocess.run(["git", "show", f"HEAD:{rel.as_posix()}"], cwd=root, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    try:
        data = json.loads(shown.stdout)
    except json.JSONDecodeError:
        return None
    return flatten(data) if isinstance(data, dict) else None


def _is_figure(value) -> bool:
    return isinstance(value, (int, float))  # bools too; text (run ids, names) is not a figure


def _differs(now, then) -> bool:
    if isinstance(now, bool) or isinstance(then, bool) or not _is_figure(then):
        return now != then
    return abs(now - then) > RELATIVE_TOLERANCE * max(abs(now), abs(then), 1e-300)


def moved(now: dict, committed: dict | None) -> dict[str, object]:
    """{key: committed value} for every figure (not a timing, not text such as a run id) whose
    value differs from HEAD's."""
    if committed is None:
        return {}
    return {k: committed.get(k) for k, v in now.items()
            if _is_figure(v) and not TIMING.search(k) and _differs(v, committed.get(k))}
