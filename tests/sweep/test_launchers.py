"""The tiny sweep through every launcher: joblib (the tiny `dvc repro`'s own sweep stage), Ray
(a one-node cluster on loopback, jobs in Ray workers started elsewhere) and submitit's local
executor (the SLURM path on one machine) give the same points, the same numbers and the same
MLflow parent/children shape, and every child carries its own job's start and end times.
Needs the cluster extra (`make cluster`); slow, run in CI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from pipeline.sweep.files import MARKER, PARENT_FILE
from tests.conftest import repro_env

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
CLUSTER = ("hydra_plugins.hydra_ray_launcher", "hydra_plugins.hydra_submitit_launcher")
EXACT = ["cost", "scale", "status", "solve.optimal", "units", "maintenance_cost"]
SOLVED = ["objective", "penalty", "energy_cost"]  # equal to the solver's tolerance (see test_same_points)


def _cluster_extra_missing() -> str | None:
    import importlib.util

    missing = [m for m in CLUSTER if importlib.util.find_spec(m) is None]
    return f"{missing} not installed: `make cluster` installs the cluster extra" if missing else None


def _netns_missing() -> str | None:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return "the Ray head runs in a private loopback-only network namespace: needs root, unshare and ip"
    return None


def _sweep_with(repo: Path, launcher: str, work: Path, store: str) -> Path:
    """`python -m pipeline.sweep` (the stage's command) with sweep.launcher=<launcher>; its own
    sweep dir and reports, the tiny run's models and data (relative paths, from the repository)."""
    cfg = OmegaConf.load(repo / "params.yaml")
    cfg.sweep.launcher = launcher
    cfg.sweep.dir = str(work / "multirun")
    cfg.paths.reports = str(work / "reports")
    params = work / "params.yaml"
    work.mkdir(parents=True)
    OmegaConf.save(cfg, params)
    cmd = [sys.executable, "-m", "pipeline.sweep", "--params", str(params)]
    if launcher == "ray":
        cmd = ["unshare", "--net", sys.executable, str(HERE / "with_ray_head.py"), *cmd]
    env = {**repro_env(), "MLFLOW_TRACKING_URI": store, "RAY_HEAD_LOG": str(work / "ray_head.log")}
    result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sweep with {launcher} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return work


@pytest.fixture(scope="module")
def sweeps(tiny_repro, tmp_path_factory) -> dict[str, tuple[Path, Path, str]]:
    """launcher -> (sweep dir, reports/sweep, tracking store)."""
    if reason := _cluster_extra_missing():
        pytest.skip(reason)
    out = {"parallel": (tiny_repro / "multirun" / "sweep", tiny_repro / "reports" / "sweep",
                        f"sqlite:///{tiny_repro / 'mlflow.db'}")}
    store = os.environ["MLFLOW_TRACKING_URI"]  # the session's throwaway store
    base = tmp_path_factory.mktemp("launchers")
    for launcher in ("slurm_local", "ray"):
        if launcher == "ray" and _netns_missing():
            continue
        work = _sweep_with(tiny_repro, launcher, base / launcher, store)
        out[launcher] = (work / "multirun", work / "reports" / "sweep", store)
    return out


def _parent_and_children(sweep_dir: Path, store: str):
    client = MlflowClient(store)
    parent = client.get_run(json.loads((sweep_dir / PARENT_FILE).read_text())["parent_run_id"])
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                                  max_results=1000)
    return client, parent, sorted(children, key=lambda r: r.info.run_name)


def test_ray_ran(sweeps):
    if reason := _netns_missing():
        pytest.skip(reason)
    assert "ray" in sweeps


def test_same_points(sweeps):
    """Grid, status, proven optimality, units and maintenance costs identical; objective parts equal
    to 1e-6 relative. joblib and Ray agree to the last bit (a worker re-solves its plan from the
    previous point's schedule in both); each submitit point is a fresh process with no start
    schedule, and HiGHS's path to the same optimum can differ in the 8th significant digit."""
    tables = {name: pd.read_csv(reports / "points.csv") for name, (_, reports, _) in sweeps.items()}
    reference = tables.pop("parallel")
    assert len(reference) == 6 and (reference["status"] == "COMPLETED").all()
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table[EXACT], reference[EXACT], check_dtype=False, obj=f"{name} points")
        pd.testing.assert_frame_equal(table[SOLVED], reference[SOLVED], rtol=1e-6, obj=f"{name} objective parts")


def test_same_mlflow_shape(sweeps):
    """One parent, one FINISHED child per point with the same names, params, metric names and
    artifacts whichever launcher ran the jobs; the parent names its launcher."""
    shapes = {}
    for name, (sweep_dir, _, store) in sweeps.items():
        client, parent, children = _parent_and_children(sweep_dir, store)
        assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/points"] == 6
        shapes[name] = [(c.info.run_name, c.info.status, c.data.params["override"], c.data.params["costs.maintenance_scale"],
                         sorted(c.data.metrics), sorted(a.path for a in client.list_artifacts(c.info.run_id)))
                        for c in children]
        launcher = parent.data.params["launcher"]
        assert launcher == {"parallel": "JoblibLauncher", "ray": "RayLauncher", "slurm_local": "LocalLauncher"}[name]
    reference = shapes.pop("parallel")
    assert len(reference) == 6 and {s[1] for s in reference} == {"FINISHED"}
    for name, shape in shapes.items():
        assert shape == reference, name


def test_children_carry_their_jobs_times(sweeps):
    """Each child's start and end are those its job recorded in its own process (not the time the
    single writer logged it), and lie within the parent's."""
    for name, (sweep_dir, _, store) in sweeps.items():
        _, parent, children = _parent_and_children(sweep_dir, store)
        for child in children:
            marker = json.loads((Path(child.data.tags["sweep.job_dir"]) / MARKER).read_text())
            assert child.info.start_time == int(marker["started"] * 1000), (name, child.info.run_name)
            assert child.info.end_time == int(marker["finished"] * 1000), (name, child.info.run_name)
            assert child.info.end_time - child.info.start_time >= 50, "a real solve, not a logging call"
            assert parent.info.start_time <= child.info.start_time <= child.info.end_time <= parent.info.end_time
