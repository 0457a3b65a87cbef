"""Ctrl-C, SIGTERM and SIGKILL in the middle of `dvc repro`, then `dvc repro` again, as a user
would (slow; CI runs it). Each time: the stopped stage never counts as done, nothing it half
wrote is taken for a result, the rerun runs it again, and no MLflow run is left RUNNING.

The stage is train_fault (Lightning's Trainer installs its own SIGTERM handler, and it keeps a
checkpoint while it trains); each case first changes one of its parameters, as a user does, so
DVC has no finished run of those parameters to restore.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipeline.core.processes import is_gone
from tests.conftest import repro_env

pytestmark = pytest.mark.slow
DVC = str(Path(sys.executable).with_name("dvc"))
STAGE, MODULE = "train_fault", "pipeline.fault"


def _set_epochs(repo: Path, epochs: int) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["fault"]["max_epochs"] = epochs
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _stage_pid(repo: Path) -> int | None:
    """The stage's python process (dvc runs it through a shell)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"-m" in args and MODULE.encode() in args and Path(os.readlink(proc / "cwd")) == repo:
                return int(proc.name)
        except OSError:
            continue
    return None


def _checkpoint_written(repo: Path) -> bool:
    return any((repo / "models").glob(f".partial-{STAGE}-*/.scratch/ckpt_*/*.ckpt"))


def _runs(repo: Path) -> list:
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"tablet/{STAGE}")
    return client.search_runs([experiment.experiment_id], max_results=1000)


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DVC, *args], cwd=repo, env=repro_env(), capture_output=True, text=True)


def _interrupt(repo: Path, signum: int, whole_group: bool) -> tuple[int, str]:
    """Start `dvc repro train_fault`, wait until the stage has written a checkpoint (it is in the
    middle of training), send the signal to the stage (a scheduler's or a user's `kill`) or to the
    whole process group (Ctrl-C in the terminal, everything killed), and return dvc's exit code."""
    proc = subprocess.Popen([DVC, "repro", STAGE], cwd=repo, env=repro_env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not _checkpoint_written(repo):
        assert proc.poll() is None, f"the stage ended before it could be stopped:\n{proc.communicate()[0][-3000:]}"
        assert time.time() < deadline, "no checkpoint after 300 s"
        time.sleep(0.02)
    stage = _stage_pid(repo)
    if whole_group:
        os.killpg(proc.pid, signum)
    else:
        os.kill(stage, signum)
    out, _ = proc.communicate(timeout=120)
    # dvc may exit before its stage has finished cleaning up (closing its MLflow run): wait for it
    deadline = time.time() + 120
    while stage is not None and not is_gone(socket.gethostname(), stage):
        assert time.time() < deadline, f"the stage (pid {stage}) still runs 120 s after the signal"
        time.sleep(0.1)
    return proc.returncode, out


# Each case its own epochs for the stopped run and for the rerun: DVC would restore a rerun whose
# parameters an earlier case finished from its run-cache, without running the stage.
@pytest.mark.parametrize("signum, whole_group, epochs, rerun_epochs", [
    (signal.SIGINT, True, 41, 2),    # Ctrl-C: the terminal signals dvc and the stage
    (signal.SIGTERM, False, 42, 3),  # `kill <pid>` or a scheduler's time limit: the stage alone
    (signal.SIGKILL, True, 43, 4),   # the OOM killer or a power cut: nothing can clean up
])
def test_a_stopped_stage_reruns_and_leaves_nothing_stale(tiny_repro, signum, whole_group, epochs, rerun_epochs):
    repo = tiny_repro  # this module's copy of the tiny reproduced repository
    _set_epochs(repo, epochs)  # long enough to be caught in the middle of training
    lock_before = (repo / "dvc.lock").read_text()
    code, out = _interrupt(repo, signum, whole_group)

    assert code != 0, out  # DVC never records the stopped stage as done
    assert (repo / "dvc.lock").read_text() == lock_before
    assert STAGE in _dvc(repo, "status", STAGE).stdout  # it still has to run
    assert not (repo / "models" / "fault_dnn.onnx").exists(), "a model that no complete run wrote"
    assert not (repo / "reports" / "fault" / "metrics.json").exists()
    statuses = [r.info.status for r in _runs(repo)]
    if signum == signal.SIGKILL:
        assert statuses.count("RUNNING") == 1  # nothing could close it yet
        assert list((repo / "models").glob(f".partial-{STAGE}-*")), "its staging folder stays, inert"
    else:
        assert "RUNNING" not in statuses and statuses.count("KILLED") >= 1
        assert not list((repo / "models").glob(".partial-*")) and not list((repo / "reports").glob(".partial-*"))

    _set_epochs(repo, rerun_epochs)  # the rerun, at a length a test can wait for
    rerun = _dvc(repo, "repro", STAGE)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert f"Running stage '{STAGE}'" in rerun.stdout
    assert "up to date" in _dvc(repo, "status", STAGE).stdout
    assert (repo / "models" / "fault_dnn.onnx").stat().st_size > 0
    runs = _runs(repo)
    assert not [r for r in runs if r.info.status == "RUNNING"], "a run left RUNNING"
    assert runs[0].info.status == "FINISHED"  # the newest run is the rerun
    for folder in ("models", "reports", "data"):
        assert not list((repo / folder).glob(".partial-*")), f"leftovers in {folder}/"
