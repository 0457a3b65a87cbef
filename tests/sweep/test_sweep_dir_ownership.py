"""The sweep empties its folder before each run, but only a folder it made: `.`, the repository,
a folder holding it and a stranger's folder are refused with a clear error and left untouched."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pipeline.core.staging import OWNER_FILE, clear_owned_dir
from pipeline.sweep.__main__ import run_sweep
from tests.conftest import ROOT, make_cfg


@pytest.fixture
def repo(tmp_path) -> Path:
    """A stand-in repository (dvc.yaml, .git, a source file) to point the sweep at."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "pipeline").mkdir()
    (root / "pipeline" / "code.py").write_text("x = 1\n")
    return root


def _cfg(folder: Path, overrides: list[str]):
    folder.mkdir(parents=True, exist_ok=True)
    return make_cfg(folder, overrides)


def _refused(cfg, root: Path, match: str) -> None:
    before = sorted(p.relative_to(root.parent) for p in root.parent.rglob("*"))
    with pytest.raises(ValueError, match=match):
        run_sweep(cfg, Path(cfg.paths.reports).parent / "params.yaml", root, app="never_launched")
    assert sorted(p.relative_to(root.parent) for p in root.parent.rglob("*")) == before, "something was deleted"


@pytest.mark.parametrize("setting, why", [
    (".", "it is the repository or a folder that holds it"),
    ("{root}", "it is the repository or a folder that holds it"),
    ("{root}/..", "it is the repository or a folder that holds it"),
    ("pipeline", "it is not empty and was not made by the sweep stage"),
    ("{foreign}", "it is not empty and was not made by the sweep stage"),
])
def test_the_sweep_refuses_folders_it_did_not_make(tmp_path, repo, setting, why):
    foreign = tmp_path / "team_share" / "results"
    foreign.mkdir(parents=True)
    (foreign / "someone_elses.csv").write_text("a,b\n1,2\n")
    value = setting.format(root=repo, foreign=foreign)
    cfg = _cfg(tmp_path / "cfg", [f"sweep.dir={value}"])
    _refused(cfg, repo, rf"sweep\.dir={value}: refusing to empty .*: {why}.* nothing was deleted")
    assert (foreign / "someone_elses.csv").exists() and (repo / "pipeline" / "code.py").exists()


def test_a_folder_the_sweep_made_is_emptied_and_marked_again(tmp_path, repo):
    shared = tmp_path / "cluster_share" / "sweep"
    clear_owned_dir(shared, "sweep", repo, "sweep.dir")
    (shared / "0").mkdir()
    (shared / "0" / "stale.json").write_text("{}")
    clear_owned_dir(shared, "sweep", repo, "sweep.dir")
    assert sorted(p.name for p in shared.iterdir()) == [OWNER_FILE]
    # an old sweep folder under the repository's multirun/ (made before the owner file existed) is ours too
    legacy = repo / "multirun" / "sweep"
    (legacy / "3").mkdir(parents=True)
    clear_owned_dir(legacy, "sweep", repo, "sweep.dir")
    assert sorted(p.name for p in legacy.iterdir()) == [OWNER_FILE]
    with pytest.raises(ValueError, match="refusing"):  # but never multirun/ itself
        (repo / "multirun" / "optimize").mkdir()
        clear_owned_dir(repo / "multirun", "sweep", repo, "sweep.dir")


def test_the_stage_says_so_in_one_line_and_exits_1(tmp_path):
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    _cfg(tmp_path / "cfg", [f"sweep.dir={foreign}"])
    params = tmp_path / "cfg" / "params.yaml"
    done = subprocess.run([sys.executable, "-m", "pipeline.sweep", "--params", str(params)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith(f"sweep: error: sweep.dir={foreign}: refusing to empty {foreign}")
    assert "Traceback" not in done.stderr and (foreign / "keep.txt").read_text() == "mine"
