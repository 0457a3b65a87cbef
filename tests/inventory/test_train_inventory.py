"""The train_inventory stage end to end on the tiny config (seconds), and on the shared sample."""
import json

import pandas as pd
import pytest

from pipeline.core.onnx_io import read_metadata
from pipeline.data import inventory as data_inventory
from pipeline.inventory.__main__ import forecast
from pipeline.inventory.train import run
from tests.conftest import make_cfg, shared_file
from tests.inventory.trained import trained as trained_once

MODELS = {"seasonal_naive", "moving_average", "weekday_profile", "linear", "lstm"}


def _prepare_and_train(cfg):
    from pathlib import Path
    data_inventory.prepare(cfg, Path(cfg.paths.data) / "inventory", Path(cfg.paths.reports) / "data")
    return run(cfg)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The session's tiny forecaster (tests/inventory/trained.py): trained once for every module."""
    it = trained_once(tmp_path_factory)
    return it.cfg, it.metrics


def test_stage_writes_metrics_models_figures_and_reorder_table(trained):
    from pathlib import Path
    cfg, metrics = trained
    reports, models = Path(cfg.paths.reports) / "inventory", Path(cfg.paths.models)
    assert json.loads((reports / "metrics.json").read_text())["selected"] == metrics["selected"]
    assert set(metrics["test"]) == MODELS and set(metrics["selected"].values()) <= MODELS
    assert metrics["chemicals"] == len(cfg.data.inventory.chemicals)
    for name in ("inventory_lstm.onnx", "inventory_linear.onnx", "inventory_lstm.pt", "inventory_selection.json"):
        assert (models / name).exists()
    assert read_metadata(models / "inventory_lstm.onnx", ["features", "horizon"])["horizon"] == cfg.model.inventory.horizon
    assert max(metrics["onnx_max_rel_diff"].values()) < 1e-5
    assert len(list((reports / "figures").glob("forecast_*.png"))) == metrics["chemicals"]
    table = pd.read_csv(reports / "metrics_by_chemical.csv")
    assert {"mae", "rmse", "wape", "r2"} <= set(table.columns)
    assert set(table.loc[table["split"] == "test", "model"]) == MODELS
    assert len(metrics["statements"]) == metrics["chemicals"]
    reorder = pd.read_csv(reports / "reorder.csv")
    assert {"stock_on_hand", "days_of_supply", "reorder_point", "safety_stock", "reorder_now"} <= set(reorder.columns)
    assert len(reorder) == pd.read_parquet(Path(cfg.paths.data) / "inventory" / "daily.parquet")[["chemical", "location"]].drop_duplicates().shape[0]


def test_forecast_command_uses_the_trained_models(trained):
    cfg, metrics = trained
    from pathlib import Path
    table, daily = forecast(cfg, 5)
    assert daily.groupby(["chemical", "location"]).size().eq(5).all()
    written = pd.read_csv(Path(cfg.paths.reports) / "inventory" / "reorder_latest.csv")
    assert list(written["chemical"]) == list(table["chemical"])
    assert (daily["forecast"] >= 0).all()
    assert set(table["model"]) <= MODELS
    with pytest.raises(ValueError, match="horizon"):
        forecast(cfg, int(cfg.model.inventory.horizon) + 1)


def test_shared_sample_reports_every_model_against_naive(tmp_path):
    path = shared_file("chemical_inventory", "chemical_inventory_usage.csv")
    cfg = make_cfg(tmp_path, ["data/inventory=shared_sample", f"data.inventory.path={path}",
                              "model.inventory.split.train=0.65", "model.inventory.split.val=0.15"])
    metrics = _prepare_and_train(cfg)
    assert set(metrics["test"]) == MODELS and metrics["chemicals"] == 4
    per_chem = pd.read_csv(tmp_path / "reports" / "inventory" / "selection.csv")
    assert per_chem["naive_wape"].notna().all()
    # each chemical gets one sentence: either the selected model's gain or "no model beats"
    assert all(("no model beats" in s) or ("no model has skill" in s) or ("vs seasonal naive" in s)
               for s in metrics["statements"])
    assert metrics["chemicals_with_skill"] == int(per_chem["selected_has_skill"].sum())
