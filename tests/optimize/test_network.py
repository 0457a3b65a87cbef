"""Reading the fault DNN: contract checks, folding, and the training-range warning."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from pipeline.core.onnx_io import METADATA_KEY, session
from pipeline.core.validation import DataValidationError
from pipeline.optimize.network import BoundsOutsideTrainingWarning, load_fault_network


def test_numpy_forward_and_folding_match_onnxruntime(fault_onnx, raw_grid):
    net = load_fault_network(fault_onnx)
    sess = session(fault_onnx)
    ort = sess.run(None, {"x": ((raw_grid - net.offset) / net.factor).astype(np.float32)})[0][:, 0]
    assert np.max(np.abs(net.logit(raw_grid) - ort)) < 1e-4  # float32 graph vs float64 numpy
    folded = net.fold({"pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.3})
    assert folded.inputs == ["temperature_C", "humidity_pct", "maintenance_cycles"]
    assert np.max(np.abs(folded.logit(raw_grid[:, [1, 4, 5]]) - net.logit(raw_grid))) < 1e-9


def _rewrite_metadata(src, dst, change):
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            meta = json.loads(prop.value)
            change(meta)
            prop.value = json.dumps(meta)
    onnx.save(model, str(dst))
    return dst


def test_refuses_inputs_out_of_contract_order(fault_onnx, tmp_path):
    bad = _rewrite_metadata(fault_onnx, tmp_path / "bad.onnx", lambda m: m["inputs"].reverse())
    with pytest.raises(DataValidationError, match="do not match the contract"):
        load_fault_network(bad)


def test_refuses_missing_scaling(fault_onnx, tmp_path):
    bad = _rewrite_metadata(fault_onnx, tmp_path / "bad.onnx", lambda m: m["scaling"].update(factor=[1.0] * 5))
    with pytest.raises(DataValidationError, match="scaling.factor"):
        load_fault_network(bad)


def test_warns_when_box_leaves_training_range(fault_onnx):
    net = load_fault_network(fault_onnx)
    with pytest.warns(BoundsOutsideTrainingWarning, match="temperature_C"):
        messages = net.check_box({"temperature_C": (10.0, 30.0)})
    assert len(messages) == 1
