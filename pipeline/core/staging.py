"""Outputs written aside and moved in at the end, and folders deleted only by their owner.

`staged(cfg, stage, keys)` gives a stage a config whose `paths.<key>` (data, models, reports)
point into a hidden folder inside the real one, `<paths.key>/.partial-<stage>-<pid>-<start>/`.
When the stage body returns, every file written there is moved into place (os.replace: each
file is old or new, never half written), folders named in `replace` are swapped whole (files of
an earlier run that this run no longer writes do not survive), and the hidden folder goes. On an
error, Ctrl-C or SIGTERM the hidden folder is removed and the real outputs are untouched, so a
later stage or a direct command never takes a failed run's files for a result. When the outputs
cannot be moved in (an immutable or read-only folder), the stage ends with one line saying where
(OutputsNotMovedError) and the MLflow runs it ended FINISHED meanwhile are marked FAILED. After a SIGKILL
the folder stays behind, inert (no stage reads it, DVC tracks no path inside it); the stage's next
start removes the folders of its own processes that are gone.

Temporary files of the stage that are not outputs (Lightning's checkpoints) go under
`scratch(cfg)`, inside the staging folder when staged, and are never moved in.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core import tracking
from pipeline.core.processes import identity, is_gone

PREFIX = ".partial-"
SCRATCH = ".scratch"


def _folder_name(stage: str) -> str:
    me = identity()
    return f"{PREFIX}{stage}-{me['pid']}-{me['started'] or 0}"


def remove_stale(root: Path, stage: str) -> list[Path]:
    """Staging folders of `stage` under `root` whose process is gone (a SIGKILL, a crash)."""
    removed = []
    if not root.is_dir():
        return removed
    host = identity()["host"]
    for folder in root.glob(f"{PREFIX}{stage}-*"):
        pid, started = (folder.name.removeprefix(f"{PREFIX}{stage}-").split("-") + [""])[:2]
        if folder.is_dir() and pid.isdigit() and is_gone(host, pid, "" if started == "0" else started):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class OutputsNotMovedError(OSError):
    """A stage's outputs could not be moved into place; the message says where and why."""


def _writable(folder: Path) -> bool:
    """Whether files can be created in `folder` (or, if it does not exist yet, in its nearest
    existing parent): an immutable folder or a read-only mount says no."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK)


def _targets(staging: Path, final: Path) -> set[Path]:
    """The folders the files written in `staging` go to under `final` (and `final` itself)."""
    folders = {final, final.parent}
    for path in staging.rglob("*"):
        rel = path.relative_to(staging)
        if rel.parts[0] != SCRATCH and path.is_file():
            folders.add((final / rel).parent)
    return folders


@contextlib.contextmanager
def _moving(mark: int, finals: list[Path], stagings: list[Path]) -> Iterator[None]:
    """Check that every target folder is writable before anything moves; turn a failed move into
    OutputsNotMovedError and mark the runs the stage finished meanwhile (since `mark`) FAILED."""
    checked = False
    try:
        blocked = sorted({t for s, f in zip(stagings, finals) for t in _targets(s, f) if not _writable(t)})
        if blocked:
            raise PermissionError(13, "folder not writable (read-only, or immutable: see lsattr -d)", str(blocked[0]))
        checked = True
        yield
    except OSError as exc:
        where = " -> ".join(str(x) for x in (exc.filename, exc.filename2) if x)
        moved = ("some of its files may already be in place, the others were removed" if checked else
                 "nothing of this run was moved in")
        message = (f"its outputs could not be moved into place ({exc.strerror or exc}: {where}); {moved}; its "
                   "MLflow run is marked FAILED. Make the folder writable and rerun")
        tracking.fail_finished_since(mark, message)
        raise OutputsNotMovedError(message) from None


def _move_in(staging: Path, final: Path, replace: tuple[str, ...]) -> None:
    """Swap the `replace` sub-folders whole, then move every other file into place."""
    for name in replace:
        if (staging / name).exists():
            (final / name).parent.mkdir(parents=True, exist_ok=True)
            _swap_in(staging / name, final / name)
    for path in sorted(staging.rglob("*")):
        rel = path.relative_to(staging)
        if rel.parts[0] == SCRATCH or not path.is_file():
            continue
        target = final / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


@contextlib.contextmanager
def staged(cfg: DictConfig, stage: str, keys: tuple[str, ...] = ("reports",),
           replace: dict[str, tuple[str, ...]] | None = None,
           on_failure: dict[str, tuple[str, ...]] | None = None) -> Iterator[DictConfig]:
    """`cfg` with paths.<key> redirected to staging folders; moved in when the body returns.

    `replace`: per key, sub-folders the stage owns whole (e.g. {"data": ("fault",)}).
    `on_failure`: per key, files moved in even when the stage fails, because they say why (a
    quarantine file); no later stage takes them for a result."""
    replace, on_failure = replace or {}, on_failure or {}
    finals = {key: Path(str(cfg.paths[key])) for key in keys}
    mark = tracking.finished_so_far()
    stagings = {}
    for key, final in finals.items():
        final.mkdir(parents=True, exist_ok=True)
        remove_stale(final, stage)
        stagings[key] = final / _folder_name(stage)
        stagings[key].mkdir()
    staged_cfg = OmegaConf.merge(cfg, {"paths": {key: str(path) for key, path in stagings.items()}})
    OmegaConf.set_readonly(staged_cfg, True)
    try:
        yield staged_cfg
    except BaseException:
        for key, names in on_failure.items():
            for name in names:
                if (stagings[key] / name).is_file():
                    (finals[key] / name).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(stagings[key] / name, finals[key] / name)
        raise
    else:
        with _moving(mark, list(finals.values()), list(stagings.values())):
            for key, final in finals.items():
                _move_in(stagings[key], final, tuple(replace.get(key, ())))
    finally:
        for path in stagings.values():
            shutil.rmtree(path, ignore_errors=True)


def scratch(cfg: DictConfig) -> Path:
    """A folder for the stage's temporary files (never outputs): under the staging folder when
    staged, so a killed stage's scratch goes with it."""
    path = Path(str(cfg.paths.models)) / SCRATCH
    path.mkdir(parents=True, exist_ok=True)
    return path


def _swap_in(staging: Path, final: Path) -> None:
    """Put folder `staging` where `final` is, the old folder removed after (never half of each)."""
    old = staging.with_name(f"{staging.name}-old")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(final: str | Path, whole: bool = False) -> Iterator[Path]:
    """One folder's files written aside (a hidden sibling, `.partial-<name>-<pid>-<start>`, so
    nothing that reads the folder sees them) and moved in on success: file by file, or with
    `whole` the folder swapped whole (files of an earlier run it no longer writes do not survive)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final.parent, final.name)
    staging = final.parent / _folder_name(final.name)
    staging.mkdir()
    mark = tracking.finished_so_far()
    try:
        yield staging
        with _moving(mark, [final], [staging]):
            if whole:
                _swap_in(staging, final)
            else:
                final.mkdir(exist_ok=True)
                _move_in(staging, final, ())
    finally:
        shutil.rmtree(staging, ignore_errors=True)


OWNER_FILE = ".pipeline-owner"  # in a folder a stage made and may empty again
OUTPUT_ROOTS = ("multirun",)    # folders under the repository that hold only what stages made


def _owner(folder: Path) -> str | None:
    try:
        return (folder / OWNER_FILE).read_text().split()[0]
    except (OSError, IndexError):
        return None


def clear_owned_dir(folder: Path, stage: str, root: Path, setting: str) -> Path:
    """Empty `folder` for a new run of `stage` and mark it as the stage's; refuse, naming
    `setting`, any folder the stage did not make: the repository or a folder holding it, the
    home folder, and a non-empty folder without the stage's owner file that does not lie under
    the repository's own output folders (multirun/)."""
    folder, root = Path(folder).resolve(), Path(root).resolve()
    refuse = None
    if folder == root or folder in root.parents:
        refuse = "it is the repository or a folder that holds it"
    elif folder == Path.home().resolve() or folder in Path.home().resolve().parents:
        refuse = "it is your home folder or a folder that holds it"
    elif (folder / ".git").exists() or (folder / "dvc.yaml").exists():
        refuse = "it holds a repository"
    elif folder.exists() and not folder.is_dir():
        refuse = "it is a file"
    elif folder.is_dir() and any(folder.iterdir()) and _owner(folder) != stage:
        inside_outputs = any(folder.is_relative_to(root / name) and folder != root / name for name in OUTPUT_ROOTS)
        if not inside_outputs:
            refuse = (f"it is not empty and was not made by the {stage} stage (no {OWNER_FILE} file naming "
                      f"'{stage}' in it)")
    if refuse:
        raise ValueError(f"{setting}: refusing to empty {folder}: {refuse}. Choose a new or empty folder "
                         f"(e.g. multirun/{stage}); nothing was deleted")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / OWNER_FILE).write_text(f"{stage}\nmade by pipeline.{stage}; emptied at the start of each run\n")
    return folder
