"""A fault network trained elsewhere: exported plainly from torch (no metadata, its own input
name, a fixed batch of one, its own column order), described by a sidecar YAML or by the
`attach` command; refused with a sentence that says what to do when the description is
missing or wrong; the training-range warning with a tolerance."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import yaml

from pipeline.contracts.fault_log import FEATURES, UNITS
from pipeline.core.validation import DataValidationError
from pipeline.optimize.network import BoundsOutsideTrainingWarning, attach, load_fault_network

ORDER = ["humidity_pct", "temperature_C", "maintenance_cycles", "pressure_kN", "speed_rpm", "vibration_mm_s"]
LOW = {"pressure_kN": 55.0, "temperature_C": 15.0, "speed_rpm": 650.0, "vibration_mm_s": 0.0,
       "humidity_pct": 20.0, "maintenance_cycles": 0.0}
SPAN = {"pressure_kN": 15.0, "temperature_C": 20.0, "speed_rpm": 200.0, "vibration_mm_s": 0.6,
        "humidity_pct": 55.0, "maintenance_cycles": 5.0}


def _plain_export(tmp_path, order=ORDER):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1))
    path = tmp_path / "their_net.onnx"
    torch.onnx.export(net.eval(), torch.zeros(1, 6), str(path), input_names=["input"], output_names=["out"],
                      dynamo=False)
    sidecar = {"inputs": order, "units": [UNITS[FEATURES.index(n)] for n in order], "output": "logit",
               "scaling": {"kind": "minmax", "offset": [LOW[n] for n in order], "factor": [SPAN[n] for n in order]},
               "train_min": [LOW[n] for n in order], "train_max": [LOW[n] + SPAN[n] for n in order]}
    return path, sidecar


def _raw(n=200):
    rng = np.random.default_rng(0)
    return np.column_stack([LOW[f] + SPAN[f] * rng.uniform(size=n) for f in FEATURES])


def test_a_plain_torch_export_works_with_a_sidecar_in_its_own_column_order(tmp_path):
    path, sidecar = _plain_export(tmp_path)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    net = load_fault_network(path)
    raw = _raw()
    sess = ort.InferenceSession(str(path))
    # the graph's own answer, fed one row at a time (fixed batch of one), in ITS column order
    graph = np.array([sess.run(None, {"input": net.graph_input(raw[i:i + 1])})[0][0, 0] for i in range(len(raw))])
    assert np.max(np.abs(net.logit(raw) - graph)) < 1e-4
    folded = net.fold({"pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.3})
    fixed = raw.copy()
    fixed[:, [0, 2, 3]] = [62.0, 758.0, 0.3]
    assert np.max(np.abs(folded.logit(fixed[:, [1, 4, 5]]) - net.logit(fixed))) < 1e-9


def test_attach_writes_the_description_into_the_file(tmp_path):
    path, sidecar = _plain_export(tmp_path)
    yml = tmp_path / "description.yaml"
    yml.write_text(yaml.safe_dump(sidecar))
    out = attach(path, yml, tmp_path / "attached.onnx")
    assert load_fault_network(out).columns == tuple(FEATURES.index(n) for n in ORDER)


def test_without_a_description_the_error_says_what_to_do(tmp_path):
    path, _ = _plain_export(tmp_path)
    with pytest.raises(DataValidationError, match=r"their_net\.yaml.*attach"):
        load_fault_network(path)


@pytest.mark.parametrize("change,message", [
    (lambda s: s.update(units=["N"] + s["units"][1:]), "units"),
    (lambda s: s.update(output="probability"), "output"),
    (lambda s: s.update(inputs=s["inputs"][:5] + ["pressure"]), "inputs"),
    (lambda s: s["scaling"].update(kind="log"), "scaling.kind"),
])
def test_a_wrong_description_is_refused_naming_the_key(tmp_path, change, message):
    path, sidecar = _plain_export(tmp_path)
    change(sidecar)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    with pytest.raises(DataValidationError, match=message):
        load_fault_network(path)


def test_an_empty_file_is_named_as_such(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(DataValidationError, match="empty"):
        load_fault_network(empty)


def test_training_range_warning_has_a_tolerance_and_puts_the_worst_first(tmp_path, recwarn):
    path, sidecar = _plain_export(tmp_path)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    net = load_fault_network(path)
    box = {"humidity_pct": (LOW["humidity_pct"] - 0.0007, 60.0), "maintenance_cycles": (1, 6)}
    messages = net.check_box(box, tolerance=0.01)
    assert len(messages) == 1 and messages[0].startswith("maintenance_cycles")
    assert any(issubclass(w.category, BoundsOutsideTrainingWarning) for w in recwarn)
    assert len(net.check_box(box, tolerance=0.0)) == 2


def test_the_optimiser_runs_and_verifies_with_a_network_trained_elsewhere(opt_cfg, tmp_path):
    from pathlib import Path

    from pipeline.optimize.run import run_optimization

    cfg = opt_cfg(["optimize.network_file=their_net.onnx"])
    models = Path(cfg.paths.models)
    path, sidecar = _plain_export(models)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    metrics = run_optimization(cfg, tmp_path / "out")
    assert metrics["solve"]["status"] == "optimal" and metrics["verification"]["passed"]
