"""Stage train_fault on the tiny configuration: metrics, figures, MLflow, and the ONNX
contract with the optimiser (names, shapes, plain Gemm/Relu graph, metadata, equivalence)."""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate

from pipeline.core import onnx_io
from pipeline.data.fault import prepare
from pipeline.contracts.fault_log import FEATURES, UNITS
from pipeline.fault.datamodule import FaultDataModule
from pipeline.contracts.fault_model import METADATA_KEYS
from pipeline.fault.train import ONNX_FILE, PT_FILE, train
from tests.conftest import make_cfg

METRIC_NAMES = {"accuracy", "auc", "pr_auc", "f1", "brier", "ece", "log_loss", "threshold", "predicted_fault_share"}


def _run_stage(tmp_path: Path, overrides: list[str] | None = None):
    cfg = make_cfg(tmp_path, overrides)
    prepare(cfg, Path(cfg.paths.data) / "fault", Path(cfg.paths.reports) / "data")
    return cfg, train(cfg)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _run_stage(tmp_path_factory.mktemp("fault"))


def test_metrics_cover_dnn_baselines_and_bayes(trained):
    cfg, metrics = trained
    assert set(metrics["test"]) == {"dnn", "logistic_regression", "gradient_boosting", "bayes"}
    for scores in metrics["test"].values():
        assert set(scores) == METRIC_NAMES
        assert 0.5 < scores["auc"] <= 1 and 0 <= scores["ece"] <= 1 and 0 < scores["brier"] < 0.25
    assert metrics["bayes_minus_dnn_auc"] == pytest.approx(metrics["test"]["bayes"]["auc"] - metrics["test"]["dnn"]["auc"])
    assert metrics["training"]["epochs"] == cfg.model.fault.max_epochs
    assert metrics["rows"]["train"] + metrics["rows"]["val"] + metrics["rows"]["test"] == cfg.data.fault.n_rows
    on_disk = json.loads((Path(cfg.paths.reports) / "fault" / "metrics.json").read_text())
    assert on_disk["test"]["dnn"]["auc"] == pytest.approx(metrics["test"]["dnn"]["auc"])


def test_figures_and_plot_tables_are_written(trained):
    cfg, metrics = trained
    reports = Path(cfg.paths.reports) / "fault"
    for name in ("learning_curves.png", "roc.png", "reliability.png"):
        assert (reports / name).read_bytes()[:4] == b"\x89PNG"
    history = pd.read_csv(reports / "history.csv")
    assert list(history["epoch"]) == list(range(metrics["training"]["epochs"]))
    assert {"train_loss", "val_loss", "train_accuracy", "val_accuracy"} <= set(history.columns)
    roc = pd.read_csv(reports / "roc.csv")
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].iloc[-1] == 1.0
    assert pd.read_csv(reports / "reliability.csv")["rows"].sum() == metrics["rows"]["test"]


def test_onnx_contract_for_the_optimiser(trained):
    cfg, _ = trained
    path = Path(cfg.paths.models) / ONNX_FILE
    model = onnx.load(str(path))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "x" and out.name == "logit"
    assert inp.type.tensor_type.elem_type == out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["batch", 6] and out_dims == ["batch", 1]
    assert {node.op_type for node in model.graph.node} == {"Gemm", "Relu"}
    assert sum(node.op_type == "Gemm" for node in model.graph.node) == len(cfg.model.fault.network.hidden) + 1
    meta = onnx_io.read_metadata(path, METADATA_KEYS)
    assert meta["model"] == "fault_dnn" and meta["inputs"] == FEATURES and meta["units"] == UNITS
    assert meta["output"] == "logit" and meta["probability"] == "sigmoid(logit)"
    dm = FaultDataModule(Path(cfg.paths.data) / "fault", cfg.model.fault.split, 64)
    dm.setup()
    train_raw = dm.splits["train"].raw
    assert meta["scaling"]["kind"] == "minmax"
    assert np.allclose(meta["scaling"]["offset"], train_raw.min(axis=0))
    assert np.allclose(np.array(meta["scaling"]["offset"]) + meta["scaling"]["factor"], train_raw.max(axis=0))
    assert np.allclose(meta["train_min"], train_raw.min(axis=0)) and np.allclose(meta["train_max"], train_raw.max(axis=0))


def test_onnxruntime_matches_torch_on_the_whole_test_set(trained):
    """The weights-only .pt, loaded into a fresh network, and the ONNX model agree to 1e-5."""
    cfg, metrics = trained
    net = instantiate(cfg.model.fault.network)
    net.load_state_dict(torch.load(Path(cfg.paths.models) / PT_FILE, weights_only=True))
    dm = FaultDataModule(Path(cfg.paths.data) / "fault", cfg.model.fault.split, 64)
    dm.setup()
    x_test = dm.scaled("test")
    assert len(x_test) == metrics["rows"]["test"] == metrics["onnx"]["rows_checked"]
    worst = onnx_io.max_abs_difference(Path(cfg.paths.models) / ONNX_FILE, net, {"x": x_test})
    assert worst <= 1e-5 and metrics["onnx"]["max_abs_difference"] <= 1e-5
    logits = onnx_io.session(Path(cfg.paths.models) / ONNX_FILE).run(None, {"x": x_test})[0]
    from sklearn.metrics import roc_auc_score  # the exported model is the evaluated model
    assert roc_auc_score(dm.splits["test"].y, logits[:, 0]) == pytest.approx(metrics["test"]["dnn"]["auc"], abs=1e-6)


def test_mlflow_run_holds_params_metrics_figures_and_model(trained):
    _, metrics = trained
    run = mlflow.get_run(metrics["mlflow_run_id"])
    assert run.data.metrics["test/auc"] == pytest.approx(metrics["test"]["dnn"]["auc"])
    assert "test/logistic_regression/auc" in run.data.metrics and "test/bayes/auc" in run.data.metrics
    assert "val/loss" in run.data.metrics and "train/loss" in run.data.metrics
    assert run.data.params["model.network.hidden"] == "[64, 32]"
    client = mlflow.MlflowClient()
    figures = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "figures")}
    assert figures == {"learning_curves.png", "roc.png", "reliability.png"}
    models = mlflow.search_logged_models(filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list")
    assert [m.name for m in models] == ["fault_dnn"]


def test_bring_your_own_data_trains_through_the_kaggle_mapping(tmp_path):
    """A log in the Kaggle layout (other column names, no truth) trains end to end."""
    (tmp_path / "gen").mkdir()
    (tmp_path / "byod").mkdir()
    source_cfg = make_cfg(tmp_path / "gen")
    prepare(source_cfg, tmp_path / "gen" / "out", tmp_path / "gen" / "rep")
    log = pd.read_parquet(tmp_path / "gen" / "out" / "log.parquet")
    names = {"timestamp": "Timestamp", "pressure_kN": "Pressure", "temperature_C": "Temperature",
             "speed_rpm": "Speed", "vibration_mm_s": "Vibration", "humidity_pct": "Humidity",
             "maintenance_cycles": "Maintenance_Cycles", "fault": "Fault"}
    csv = tmp_path / "kaggle.csv"
    log.rename(columns=names).to_csv(csv, index=False)
    cfg, metrics = _run_stage(tmp_path / "byod", ["data/fault=kaggle", f"data.fault.path={csv}"])
    assert set(metrics["test"]) == {"dnn", "logistic_regression", "gradient_boosting"}
    assert "no Bayes limit" in metrics["bayes_note"] and "bayes_minus_dnn_auc" not in metrics
    assert metrics["test"]["dnn"]["auc"] > 0.6


def test_milp_aware_option_trains_prunes_and_counts(tmp_path):
    _, metrics = _run_stage(tmp_path, ["model.fault.milp_aware.enabled=true", "model.fault.milp_aware.prune_below=0.05"])
    assert metrics["milp_aware"] is True and metrics["training"]["pruned_weights"] > 0
    for counts in metrics["stability"].values():
        assert counts["stable"] + counts["unstable"] == counts["neurons"]
    assert metrics["stability"]["lp"]["stable"] >= metrics["stability"]["interval"]["stable"]
    assert metrics["onnx"]["max_abs_difference"] <= 1e-5


def test_omlt_reads_the_model_with_its_metadata_scaling(trained):
    """The optimiser's path: OMLT + the metadata's scaling + the box in scaled space. The MILP's
    minimum logit over the box matches onnxruntime at its argmin and beats every grid point."""
    import pyomo.environ as pyo
    from omlt import OffsetScaling, OmltBlock
    from omlt.io.onnx import load_onnx_neural_network
    from omlt.neuralnet import ReluBigMFormulation

    cfg, _ = trained
    path = Path(cfg.paths.models) / ONNX_FILE
    meta = onnx_io.read_metadata(path, METADATA_KEYS)
    offset, factor = np.array(meta["scaling"]["offset"]), np.array(meta["scaling"]["factor"])
    box = cfg.model.fault.stability_box
    raw = [tuple(v) if hasattr(v, "__len__") else (v, v) for v in (box[name] for name in FEATURES)]
    scaled = {i: ((lo - offset[i]) / factor[i], (hi - offset[i]) / factor[i]) for i, (lo, hi) in enumerate(raw)}
    scaling = OffsetScaling(offset_inputs=list(offset), factor_inputs=list(factor), offset_outputs=[0.0],
                            factor_outputs=[1.0])
    net = load_onnx_neural_network(onnx.load(str(path)), scaling, scaled)
    model = pyo.ConcreteModel()
    model.nn = OmltBlock()
    model.nn.build_formulation(ReluBigMFormulation(net))
    model.obj = pyo.Objective(expr=model.nn.outputs[0])
    for i, (lo, hi) in enumerate(raw):
        if lo == hi:
            model.nn.inputs[i].fix(lo)
    pyo.SolverFactory("appsi_highs").solve(model)
    best = np.array([[pyo.value(model.nn.inputs[i]) for i in range(len(FEATURES))]])
    sess = onnx_io.session(path)
    at_best = sess.run(None, {"x": ((best - offset) / factor).astype(np.float32)})[0][0, 0]
    assert pyo.value(model.obj) == pytest.approx(at_best, abs=1e-4)
    grid = np.stack(np.meshgrid(*[np.linspace(lo, hi, 7) for lo, hi in raw], indexing="ij"), -1).reshape(-1, 6)
    grid_logits = sess.run(None, {"x": ((grid - offset) / factor).astype(np.float32)})[0]
    assert pyo.value(model.obj) <= grid_logits.min() + 1e-4
