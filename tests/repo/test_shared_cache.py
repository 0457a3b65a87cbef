"""A shared DVC cache: the tiny run pushed to a directory remote (a shared folder; S3 or SSH in a
team), a second clone that pulls gets the committed models bit for bit and `dvc repro` then
reruns nothing. Slow (shares the session's tiny `dvc repro`)."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.conftest import commit_all, repro_env
from tests.queued_experiments import dvc

pytestmark = pytest.mark.slow


def digests(repo: Path, *folders: str) -> dict[str, str]:
    out = {}
    for folder in folders:
        for path in sorted((repo / folder).rglob("*")):
            if path.is_file() and path.name != ".gitignore":
                out[str(path.relative_to(repo))] = hashlib.md5(path.read_bytes()).hexdigest()
    return out


def test_second_clone_pulls_identical_models_and_reruns_nothing(tiny_repro, tmp_path):
    env = repro_env()
    remote = tmp_path / "shared-remote"
    dvc(tiny_repro, env, "remote", "add", "--force", "-d", "shared", str(remote))
    commit_all(tiny_repro, "tiny run, shared remote")
    dvc(tiny_repro, env, "push")

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tiny_repro), str(clone)], check=True)
    assert not (clone / "models" / "fault_dnn.onnx").exists()
    dvc(clone, env, "pull")
    out = dvc(clone, env, "repro")
    assert "Running stage" not in out, out
    assert "up to date" in dvc(clone, env, "status")

    pulled = digests(clone, "models", "data")
    assert any(k.endswith(".onnx") for k in pulled) and any(k.startswith("data/") for k in pulled)
    assert pulled == digests(tiny_repro, "models", "data"), "the clone's models and data differ from the pushed ones"
    page = "reports/index.html"  # a cached output too, so a pull brings the page that goes with the models
    assert (clone / page).read_bytes() == (tiny_repro / page).read_bytes()
