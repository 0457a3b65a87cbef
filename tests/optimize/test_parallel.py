"""The decomposition's day problems on a Ray cluster (a one-node head on loopback in a private
network namespace, as the sweep's launcher test starts it) give the same objective and bound as
one process, both run as the stage's command. (joblib's workers, the default, against one
process: tests/optimize/test_decompose.py::test_processes_give_the_same_schedule.) Needs the
cluster extra (`make cluster`); slow, run in CI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.sweep.test_launchers import _cluster_extra_missing, _netns_missing

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
RAY_HEAD = ROOT / "tests" / "sweep" / "with_ray_head.py"
PLANT = {"rooms": [{"name": "A", "presses": [
    {"name": "old", "fixed_inputs": {"pressure_kN": 66.0, "speed_rpm": 700.0, "vibration_mm_s": 0.45}, "max_per_hour": 30},
    {"name": "new", "max_per_hour": 40}]}, {"name": "B", "presses": [{"name": "twin", "count": 2}]}]}


def _run(cfg, tmp_path: Path, name: str, parallel: str, wrap: list[str]) -> dict:
    app = tmp_path / name
    app.mkdir()
    cfg = OmegaConf.merge(cfg, {"optimize": {"parallel": parallel, "workers": 2, "plant": PLANT},
                                "paths": {"reports": str(app / "reports")}})
    OmegaConf.save(cfg, app / "params.yaml")
    cmd = [sys.executable, "-m", "pipeline.optimize", "--config-path", str(app), "--config-name", "params"]
    env = {**os.environ, "MPLBACKEND": "Agg", "RAY_HEAD_LOG": str(app / "ray_head.log")}
    done = subprocess.run(wrap + cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{parallel}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads((app / "reports" / "optimize" / "metrics.json").read_text())


def test_ray_gives_the_one_process_answer(opt_cfg, tmp_path):
    if reason := _cluster_extra_missing() or _netns_missing():
        pytest.skip(reason)
    cfg = opt_cfg(["optimize.horizon_hours=6", "optimize.production.demand_per_day=1500"])
    serial = _run(cfg, tmp_path, "none", "none", [])
    ray = _run(cfg, tmp_path, "ray", "ray", ["unshare", "--net", sys.executable, str(RAY_HEAD)])
    assert serial["model"]["decomposition"]["parallel"] == "none"
    assert ray["model"]["decomposition"]["parallel"] == "ray"
    assert ray["verification"]["passed"] and serial["verification"]["passed"]
    assert ray["objective"] == pytest.approx(serial["objective"], rel=1e-9)
    assert ray["solve"]["bound"] == pytest.approx(serial["solve"]["bound"], rel=1e-9)
