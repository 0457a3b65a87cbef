"""A stage whose outputs cannot be moved into place (an immutable folder, a read-only mount, a move
that fails half way) ends with one line saying where, moves nothing it can avoid moving, and its
MLflow run, already ended FINISHED, is marked FAILED."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.core import staging
from pipeline.core.staging import OutputsNotMovedError, staged_dir
from pipeline.core.tracking import stage_run, trial_store
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory, new_store) -> str:
    """One SQLite store for the module."""
    return new_store(tmp_path_factory.mktemp("store"))


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"]) if found else []


@pytest.fixture
def immutable():
    """chattr +i on folders (undone afterwards), or a skip where the file system or user cannot."""
    done: list[Path] = []

    def make(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not possible here (needs root on ext4/xfs); the monkeypatched test covers it")
        done.append(folder)

    yield make
    for folder in done:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_an_immutable_reports_folder_fails_the_stage_in_one_line_and_its_run(tmp_path, immutable):
    from pipeline.data.__main__ import run

    out = tmp_path / "try"
    run("prices", out=str(out))
    before = (out / "data" / "prices" / "prices.csv").read_bytes()
    immutable(out / "reports" / "data")
    done = subprocess.run([sys.executable, "-m", "pipeline.data", "prices", "--out", str(out), "optimize.horizon_hours=5"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "could not be moved into place" in errors[0] and "reports/data" in errors[0]
    assert "nothing of this run was moved in" in errors[0]
    assert (out / "data" / "prices" / "prices.csv").read_bytes() == before  # the 5-hour file never moved in
    assert not list(out.rglob(".partial-*"))
    statuses = [r.info.status for r in _runs(trial_store(out), "tablet/prepare_prices")]
    assert statuses == ["FAILED", "FINISHED"]


def test_a_move_that_fails_half_way_marks_the_finished_run_failed(tmp_path, monkeypatch, store_uri):
    uri = store_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    final = tmp_path / "reports" / "optimize"
    real_replace = os.replace
    moved: list[str] = []

    def read_only_after_one(src, dst):
        if str(dst).startswith(str(final)) and moved:
            raise OSError(errno.EROFS, "Read-only file system", str(src), None, str(dst))
        moved.append(str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", read_only_after_one)
    with pytest.raises(OutputsNotMovedError, match=r"Read-only file system: .*schedule\.csv -> .*optimize/"
                                                   r"schedule\.csv\); some of its files may already be in place"):
        with staged_dir(final) as folder:
            with stage_run("optimize"):
                for name in ("metrics.json", "schedule.csv"):
                    (folder / name).write_text(name)
    run = _runs(uri, "tablet/optimize")[0]
    assert run.info.status == "FAILED" and "could not be moved into place" in run.data.tags["pipeline.failed"]
    assert not list(tmp_path.rglob(".partial-*"))


def test_a_run_that_moved_in_stays_finished(tmp_path, monkeypatch, store_uri):
    uri = store_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with staged_dir(tmp_path / "reports" / "optimize") as folder:
        with stage_run("optimize"):
            (folder / "metrics.json").write_text("{}")
    run = _runs(uri, "tablet/optimize")[0]
    assert run.info.status == "FINISHED" and "pipeline.failed" not in run.data.tags
