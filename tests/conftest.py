"""Shared fixtures: an isolated MLflow store and tiny composed configurations."""
from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import load_params
from pipeline.core.settings.every import SECTIONS
from tests.hypothesis_profiles import register_profiles

register_profiles()

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _mlflow_store(tmp_path_factory):
    """Every test logs to a throwaway SQLite store, never to the user's mlflow.db."""
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(scope="session")
def new_store(tmp_path_factory) -> Callable[[Path], str]:
    """`new_store(folder)`: a fresh SQLite MLflow store at folder/mlflow.db, returns its URI.
    MLflow migrates a new SQLite file through its whole schema history (2.8 s at load 3), so the
    migration runs once a session, into a template, and each store is a copy of it: the tables at
    the current schema and no experiment yet (MLflow adds the Default one on first open, with the
    opener's artifact root, as it does for a new file)."""
    from mlflow.store.db.utils import _initialize_tables, create_sqlalchemy_engine_with_retry

    template = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    engine = create_sqlalchemy_engine_with_retry(f"sqlite:///{template}")
    _initialize_tables(engine)
    engine.dispose()

    def make(folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, folder / "mlflow.db")
        return f"sqlite:///{folder / 'mlflow.db'}"

    return make


@functools.cache
def tiny_composition(overrides: tuple[str, ...] = ()) -> str:
    """conf/ composed with +experiment=tiny and `overrides` (as `dvc exp run` composes), as YAML:
    composed once per session for each list of overrides (a composition takes about a second)."""
    with tempfile.TemporaryDirectory() as folder:
        return compose(["+experiment=tiny", *overrides], output=Path(folder) / "params.yaml", root=ROOT).read_text()


def make_cfg(tmp_path: Path, overrides: list[str] | None = None):
    """params.yaml composed from conf/ with +experiment=tiny and `overrides`, with every
    path (data, models, reports) inside tmp_path. Returns the read-only DictConfig, every
    section checked against its schema (ConfigError otherwise)."""
    out = tmp_path / "params.yaml"
    cfg = OmegaConf.create(tiny_composition(tuple(overrides or [])))
    for key in ("data", "models", "reports"):
        cfg.paths[key] = str(tmp_path / key)
    OmegaConf.save(cfg, out)
    return load_params(out, SECTIONS)


@pytest.fixture
def tiny_cfg(tmp_path):
    return make_cfg(tmp_path)


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data, or a skip that says why."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data file {path} not present (../shared/data is optional)")
    return path


GENERATED = {"data", "models", "reports", "mlruns", "mlartifacts", "multirun", "outputs"}


def copy_worktree(dest: Path) -> Path:
    """The repository's tracked and untracked-but-not-ignored files, as a fresh git repo."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if name.split("/")[0] in GENERATED:  # outputs of an earlier run: the copy makes its own
            continue
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True)
    return dest


def repro_env() -> dict:
    """The environment a user has: no test store override, so the default absolute
    sqlite:///<repo>/mlflow.db is used."""
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["MPLBACKEND"] = "Agg"
    # dvc runs each stage's `python` from PATH: make it this environment's, as `make repro` does
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def tiny_built(tmp_path_factory) -> Path:
    """The repository after `dvc repro` on the tiny configuration, built once per run and never
    changed: tests work on copies (`tiny_repro`). Under pytest-xdist the first process to ask
    builds it in the run's folder while the others wait on a file lock."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each process's own
    repo, done, failed = (shared / f"tiny-built{end}" for end in ("", ".done", ".failed"))
    with open(shared / "tiny-built.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failed.exists():  # another process's build failed: the same error, not a second try
            raise AssertionError(failed.read_text())
        if not done.exists():
            repo.mkdir()
            try:
                reproduce_tiny(copy_worktree(repo))
            except Exception as error:
                failed.write_text(str(error))
                raise
            done.touch()
    return repo


@pytest.fixture(scope="module")
def tiny_repro(tiny_built, tmp_path_factory) -> Path:
    """A copy of the tiny reproduced repository for one test module, which may change it in place
    (`dvc exp run`, commits, sweeps); it holds data/, models/, reports/ and mlflow.db. One per
    module, so modules run on any process, side by side (`xdist_group_of`)."""
    return copy_repo(tiny_built, tmp_path_factory.mktemp("repo") / "repo")


def copy_repo(src: Path, dest: Path) -> Path:
    """A copy of a reproduced repository whose MLflow store points at its own artifacts: every
    path of `src` in the store's text columns (artifact locations, run and model sources) becomes
    the copy's, so that runs logged in the copy never write into `src`."""
    import sqlite3

    shutil.copytree(src, dest, symlinks=True)
    with contextlib.closing(sqlite3.connect(dest / "mlflow.db")) as db, db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in (c[1] for c in db.execute(f'PRAGMA table_info("{table}")') if c[2].upper().startswith(("VARCHAR", "TEXT"))):
                db.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE instr("{column}", ?)',
                           (str(src), str(dest), str(src)))
    return dest


def reproduce_tiny(repo: Path) -> None:
    """params.yaml composed for the tiny configuration, then `dvc repro` (what differs reruns)."""
    import subprocess
    import sys

    compose(["+experiment=tiny"], output=repo / "params.yaml", root=repo)
    dvc = Path(sys.executable).with_name("dvc")
    result = subprocess.run([str(dvc), "repro"], cwd=repo, env=repro_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"tiny dvc repro failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")


def commit_all(repo: Path, message: str) -> str:
    """`git add -A && git commit` (if anything changed) in a test repository; returns HEAD."""
    import subprocess

    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    if subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=repo).returncode != 0:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], cwd=repo, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="session")
def team_server():
    """One team tracking server per session (PostgreSQL + `mlflow server --app-name basic-auth`
    with the artifact proxy, loopback; users admin, pipeline, reviewer: tests/team_server.py),
    shared by the team-experiment, access and browser-review tests; stopped at the end."""
    from tests import team_server as team

    if reason := team.missing():
        pytest.skip(reason)
    with team.team_server() as server:
        yield server


@pytest.fixture(scope="session")
def team_experiments(tiny_built, team_server, tmp_path_factory):
    """Three experiments queued on a copy of the tiny run and run two at a time against the team
    server (tests/queued_experiments.py), every stage logging as user `pipeline`. Yields what the
    tests read."""
    from tests.queued_experiments import EXPERIMENTS, run_queue
    from tests.team_server import credentials

    repo = copy_repo(tiny_built, tmp_path_factory.mktemp("team") / "repo")
    baseline = commit_all(repo, "tiny run")  # what a user commits after `dvc repro`
    env = {**repro_env(), "MLFLOW_TRACKING_URI": team_server["url"], **credentials(team_server, "pipeline")}
    outcome = run_queue(repo, EXPERIMENTS, env, jobs=2)
    yield {**team_server, **outcome, "repo": repo, "baseline": baseline, "env": env}


# The team server is one per session and its tests change it in place (users, grants, passwords,
# queued experiments): they all run in the process that started it. The tiny repro is built once
# per run (`tiny_built`) and each module on it takes its own copy: a module-scoped fixture, so
# each such module runs on one process and the modules side by side.
TEAM_GROUP = "team_server"


def xdist_group_of(item: pytest.Item) -> str | None:
    """The pytest-xdist group (`--dist loadgroup`) of a test: the team server's tests share one
    worker, so it is started once; a module whose tests share a module-scoped fixture (a copy of
    the tiny repro, a server) runs on one worker, so it is built once; any other test goes
    wherever a worker is free."""
    if "team_server" in item.fixturenames:
        return TEAM_GROUP
    fixtures = item._fixtureinfo.name2fixturedefs.values()
    if any(defs and defs[-1].scope == "module" for defs in fixtures):
        return item.nodeid.split("::")[0]
    return None


def _queue_rank(items: list[pytest.Item]) -> Callable[[pytest.Item], int]:
    """The longest work first, the shortest last, so the processes finish together (a process
    that drew a 100 s server module last ran alone for minutes while the others idled): the team
    server's group (its server, the access tests, then the queued experiments on the tiny repro),
    then the first module on the tiny repro (its process builds it at once), then the other slow
    tests (those not waiting on the tiny repro first, while it builds), the fast ones last; as
    collected within each rank."""
    first_tiny = next((xdist_group_of(i) for i in items if "tiny_built" in i.fixturenames
                       and xdist_group_of(i) != TEAM_GROUP), None)
    ranks = {TEAM_GROUP: 0, **({first_tiny: 1} if first_tiny else {})}

    def rank(item: pytest.Item) -> int:
        if (group := xdist_group_of(item)) in ranks:
            return ranks[group]
        if item.get_closest_marker("slow") is None:
            return 4
        return 3 if "tiny_built" in item.fixturenames else 2

    return rank


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if group := xdist_group_of(item):
            item.add_marker(pytest.mark.xdist_group(group))
    if getattr(config.option, "loadgroup", False):  # set on xdist's workers: their order is the queue's
        items.sort(key=_queue_rank(items))  # stable: the order within a group stays as collected
