"""End to end: the whole DAG on the tiny configuration, as a user runs it (slow; CI runs it)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import repro_env

pytestmark = pytest.mark.slow
DVC = str(Path(sys.executable).with_name("dvc"))
STAGES = ["prepare_fault", "prepare_line", "prepare_inventory", "prepare_prices", "train_fault",
          "train_process", "train_inventory", "optimize", "sweep", "report"]


def dvc(repo: Path, *args: str) -> str:
    result = subprocess.run([DVC, *args], cwd=repo, env=repro_env(), capture_output=True, text=True)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def test_every_stage_writes_its_outputs(tiny_repro):
    for onnx in ("fault_dnn", "process_lstm", "inventory_lstm"):
        assert (tiny_repro / "models" / f"{onnx}.onnx").stat().st_size > 0
    for stage in ("fault", "process", "inventory", "optimize", "sweep"):
        metrics = json.loads((tiny_repro / "reports" / stage / "metrics.json").read_text())
        assert metrics, f"reports/{stage}/metrics.json is empty"
    assert (tiny_repro / "reports" / "index.html").stat().st_size > 0
    assert (tiny_repro / "mlflow.db").exists(), "default tracking store is sqlite:///<repo>/mlflow.db"


def test_second_repro_does_nothing(tiny_repro):
    out = dvc(tiny_repro, "repro")
    assert "Running stage" not in out, out
    assert "up to date" in dvc(tiny_repro, "status")


def test_metrics_and_plots_are_listed(tiny_repro):
    shown = json.loads(dvc(tiny_repro, "metrics", "show", "--json"))
    files = {f for entry in shown.values() for f in entry.get("data", {})}
    for stage in ("fault", "process", "inventory", "optimize", "sweep"):
        assert f"reports/{stage}/metrics.json" in files
    plots = dvc(tiny_repro, "plots", "show", "--json")
    assert "reports/fault" in plots and "reports/optimize" in plots


def test_set_override_reruns_only_its_dependents_and_changes_the_metric(tiny_repro):
    """`dvc exp run -S` composes conf/ (DVC's Hydra composition) and reaches the stage."""
    before = json.loads((tiny_repro / "reports" / "inventory" / "metrics.json").read_text())
    out = dvc(tiny_repro, "exp", "run", "-S", "+experiment=tiny", "-S", "model.inventory.max_epochs=1")
    ran = {s for s in STAGES if f"Running stage '{s}'" in out}
    assert ran == {"train_inventory", "report"}, out
    params = (tiny_repro / "params.yaml").read_text()
    assert "max_epochs: 1" in params
    after = json.loads((tiny_repro / "reports" / "inventory" / "metrics.json").read_text())
    assert after != before
