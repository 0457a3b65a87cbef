"""The sweep stage over a stand-in optimiser: N parallel jobs -> exactly N children under one
parent with the right params, the table, the curves and the figures; failures are logged too."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pipeline.core.tracking import tracking_uri
from pipeline.sweep.__main__ import run_sweep
from pipeline.sweep.grid import grid_override
from tests.conftest import make_cfg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APP = "fake_optimize_app"


def _cfg(tmp_path, overrides):
    return make_cfg(tmp_path, [f"sweep.dir={tmp_path / 'multirun'}", *overrides])


def _children(cfg, parent_id):
    client = MlflowClient(tracking_uri(cfg))
    exp = client.get_experiment_by_name("tablet/sweep")
    return client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'", max_results=1000)


def _parent_id(cfg):
    import json

    return json.loads((Path(cfg.sweep.dir) / "mlflow_parent.json").read_text())["parent_run_id"]


def test_grid_override_is_one_at_a_time():
    ov = grid_override(["maintenance", "humidity"], [0.5, 1.5])
    assert ov == ("costs={maintenance_scale:0.5},{maintenance_scale:1.5},"
                  "{humidity_scale:0.5},{humidity_scale:1.5}")


def test_unknown_launcher_is_named_with_the_choices():
    """The choices are the files of conf/hydra/launcher (the sweep's schema reads them)."""
    from pipeline.core.config import load_params
    from pipeline.core.settings.schema import ConfigError
    from pipeline.sweep.__main__ import SETTINGS
    from pipeline.sweep.grid import check_launcher

    with pytest.raises(ConfigError, match=r"sweep.launcher = 'rayy': allowed one of basic, parallel, ray, slurm, "
                                          r"slurm_local \(conf/hydra/launcher/<name>.yaml\)"):
        load_params(ROOT / "params.yaml", SETTINGS, ["sweep.launcher=rayy"])
    check_launcher("parallel")


def test_parallel_sweep_logs_exactly_one_child_per_point(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.setenv("FAKE_SOLVE_S", "0.5")  # long enough that both workers take jobs
    cfg = _cfg(tmp_path, ["sweep.scales=[0.5,1.0,1.5]", "sweep.costs=[maintenance,humidity]"])
    params = tmp_path / "params.yaml"

    metrics = run_sweep(cfg, params, ROOT, app=APP)

    assert metrics["points"] == 6 and metrics["failed"] == 0 and metrics["figures"] == 2
    children = _children(cfg, _parent_id(cfg))
    assert len(children) == 6  # none lost, none duplicated
    got = sorted((c.data.params["costs.maintenance_scale"], c.data.params["costs.humidity_scale"]) for c in children)
    assert got == sorted([("0.5", "1.0"), ("1.0", "1.0"), ("1.5", "1.0"),
                          ("1.0", "0.5"), ("1.0", "1.0"), ("1.0", "1.5")])
    assert len({c.data.tags["sweep.job"] for c in children}) == 6
    one = next(c for c in children if c.data.params["costs.maintenance_scale"] == "0.5")
    assert one.info.run_name == "maintenance x0.5" and one.info.status == "FINISHED"
    assert one.info.end_time - one.info.start_time >= 500, "the child spans its job (FAKE_SOLVE_S), not its logging"
    assert one.data.metrics["optimize/maintenance_cost"] == pytest.approx(500.0)
    assert one.data.metrics["optimize/solve/seconds"] == pytest.approx(0.2)
    artifacts = {a.path for a in MlflowClient(tracking_uri(cfg)).list_artifacts(one.info.run_id)}
    assert {"schedule.csv", "metrics.json"} <= artifacts
    pids = {c.data.metrics["optimize/pid"] for c in children}
    assert len(pids) == 2, "two joblib workers should have shared the jobs"

    reports = Path(cfg.paths.reports) / "sweep"
    table = pd.read_csv(reports / "points.csv")
    assert len(table) == 6 and list(table["cost"].unique()) == ["maintenance", "humidity"]
    curve = pd.read_csv(reports / "curves_humidity.csv")
    assert list(curve["scale"]) == [0.5, 1.0, 1.5]
    assert list(curve["energy_cost"]) == [500 + 150, 500 + 300, 500 + 450]
    for cost in ("maintenance", "humidity"):
        assert (reports / f"{cost}.png").read_bytes().startswith(b"\x89PNG")


def test_failed_point_is_logged_as_failed_child_and_stage_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.setenv("FAKE_FAIL_AT_MAINTENANCE", "0.5")
    cfg = _cfg(tmp_path, ["sweep.scales=[0.5,1.5]", "sweep.costs=[maintenance]"])

    with pytest.raises(SystemExit, match="1 failed point.*reports/sweep/ left as it was"):
        run_sweep(cfg, tmp_path / "params.yaml", ROOT, app=APP)

    children = _children(cfg, _parent_id(cfg))
    assert sorted(c.info.status for c in children) == ["FAILED", "FINISHED"]
    failed = next(c for c in children if c.info.status == "FAILED")
    assert "infeasible" in failed.data.tags["error"]
    # a failed sweep is no result: reports/sweep/ is not written, its table stays in the sweep folder
    assert not (Path(cfg.paths.reports) / "sweep").exists()
    table = pd.read_csv(Path(cfg.sweep.dir) / "summary" / "points.csv")
    assert sorted(table["status"]) == ["COMPLETED", "FAILED"]
    assert not math.isnan(table.loc[table["status"] == "COMPLETED", "objective"].iloc[0])
