"""Shared fixtures: an isolated MLflow store and tiny composed configurations."""
from __future__ import annotations

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
def tiny_repro(tmp_path_factory) -> Path:
    """A copy of the repository after `dvc repro` on the tiny configuration (done once per
    session; slow tests share it). The copy holds data/, models/, reports/ and mlflow.db."""
    repo = copy_worktree(tmp_path_factory.mktemp("repo"))
    reproduce_tiny(repo)
    return repo


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
def team_experiments(tiny_repro, team_server):
    """Three experiments queued on the tiny run and run two at a time against the team server
    (tests/queued_experiments.py), every stage logging as user `pipeline`. Yields what the tests read."""
    from tests.queued_experiments import EXPERIMENTS, run_queue
    from tests.team_server import credentials

    # the tiny configuration as it was composed: an earlier test's `dvc exp run -S ...` leaves its
    # parameters and results in the shared workspace, and every experiment would rerun that stage
    reproduce_tiny(tiny_repro)
    baseline = commit_all(tiny_repro, "tiny run")  # what a user commits after `dvc repro`
    env = {**repro_env(), "MLFLOW_TRACKING_URI": team_server["url"], **credentials(team_server, "pipeline")}
    outcome = run_queue(tiny_repro, EXPERIMENTS, env, jobs=2)
    yield {**team_server, **outcome, "repo": tiny_repro, "baseline": baseline, "env": env}


# Session fixtures that tests change in place (`dvc exp run`, commits, queued experiments): every
# test that uses one must run in the one process that built it.
SHARED_IN_PLACE = ("tiny_repro", "team_server")
TINY_GROUP = "tiny_repro"


def xdist_group_of(item: pytest.Item) -> str | None:
    """The pytest-xdist group (`--dist loadgroup`) of a test: the tiny repro's and team server's
    tests share one worker, so each is built once; a module whose tests share a module-scoped
    fixture runs on one worker, so it is built once; any other test goes wherever a worker is free."""
    if any(name in item.fixturenames for name in SHARED_IN_PLACE):
        return TINY_GROUP
    fixtures = item._fixtureinfo.name2fixturedefs.values()
    if any(defs and defs[-1].scope == "module" for defs in fixtures):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if group := xdist_group_of(item):
            item.add_marker(pytest.mark.xdist_group(group))
    if getattr(config.option, "loadgroup", False):  # set on xdist's workers: their order is the queue's
        # the tiny repro's group is the longest chain of the slow suite (its build and the tests on
        # it, one after another): first in the queue, a worker starts it at once while the others
        # share everything else; the order within the group stays as collected
        items.sort(key=lambda item: xdist_group_of(item) != TINY_GROUP)
