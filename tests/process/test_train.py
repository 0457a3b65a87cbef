"""The train_process stage end to end on the tiny configuration, its ONNX model, and the
real-time replay, which must raise the same warnings as the stage."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core import onnx_io
from pipeline.data.line import stage as line
from pipeline.contracts.process_model import REQUIRED_METADATA as REQUIRED
from pipeline.process.monitor import Window, replay
from pipeline.process.train import train
from tests.conftest import make_cfg, shared_file


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("process")
    cfg = make_cfg(tmp)
    line.prepare(cfg, Path(cfg.paths.data) / "line", Path(cfg.paths.reports) / "data")
    return cfg, train(cfg)


def test_stage_writes_metrics_model_and_figures(trained):
    cfg, m = trained
    reports, models = Path(cfg.paths.reports) / "process", Path(cfg.paths.models)
    assert json.loads((reports / "metrics.json").read_text())["test"]["horizon_s"] == m["test"]["horizon_s"]
    for name in ("forecast_vs_actual.png", "mase_by_horizon.png", "scores.csv", "warnings.csv", "events_scored.csv"):
        assert (reports / name).stat().st_size > 0
    scores = pd.read_csv(reports / "scores.csv")
    assert set(scores.model) == {"lstm", "persistence", "moving_average", "linear_ar"}
    assert len(scores) == 4 * len(cfg.model.process.horizons) * len(cfg.data.line.targets)
    assert np.isfinite(scores[["mae", "rmse", "mase"]].to_numpy()).all()
    assert m["onnx"]["max_abs_difference"] < 1e-3
    meta = onnx_io.read_metadata(models / "process_lstm.onnx", REQUIRED)
    assert meta["targets"] == list(cfg.data.line.targets)
    assert (models / "process_lstm.pt").exists()
    assert 0 <= m["warnings"]["lstm"]["false_alarms_per_hour"]


def test_replay_raises_the_stage_warnings(trained, tmp_path):
    cfg, _ = trained
    stage = pd.read_csv(Path(cfg.paths.reports) / "process" / "warnings.csv")
    m = replay(Path(cfg.paths.models) / "process_lstm.onnx", Path(cfg.paths.data) / "line" / "aligned.parquet", tmp_path)
    live = pd.read_csv(tmp_path / "monitor_warnings.csv")
    assert list(zip(live.time, live.target)) == list(zip(stage.time, stage.target))
    assert m["steps"] > 0 and m["latency_ms"]["p50"] > 0


def test_window_buffer_keeps_the_last_rows_in_order():
    w = Window(3, 1)
    got = []
    for i in range(7):
        view = w.push(np.array([float(i)]))
        got.append(None if view is None else view.copy())  # a view: the next push overwrites it
    assert got[0] is None and got[1] is None
    np.testing.assert_array_equal(got[2][:, 0], [0, 1, 2])
    np.testing.assert_array_equal(got[6][:, 0], [4, 5, 6])


def test_bad_config_is_refused(tmp_path):
    from omegaconf import OmegaConf

    from pipeline.process.train import check_config

    cfg = make_cfg(tmp_path)
    with pytest.raises(ValueError, match="horizon"):
        check_config(OmegaConf.merge(cfg.model.process, {"horizon": 999}))
    with pytest.raises(ValueError, match="ar_lags"):
        check_config(OmegaConf.merge(cfg.model.process, {"baselines": {"ar_lags": 10_000}}))


@pytest.mark.slow
def test_real_press_series_trains_and_compares(tmp_path):
    path = shared_file("tablet_press_process", "Process_timeseries_code6.csv")
    cfg = make_cfg(tmp_path, ["data/line=press_10s", f"data.line.path={path}", "model.process.max_epochs=2"])
    line.prepare(cfg, Path(cfg.paths.data) / "line", Path(cfg.paths.reports) / "data")
    m = train(cfg)
    assert set(m["test"]["by_target"]) == {"main_comp", "ejection"}
    assert m["warnings"]["lstm"]["events"] == 0  # no ground truth in a real file
