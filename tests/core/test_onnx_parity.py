"""The one ONNX parity check (pipeline/core/onnx_io.check_parity) every model's export passes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.core.onnx_io import OnnxParityError, check_parity, export


@pytest.fixture
def exported(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    path = export(net, torch.zeros(1, 3), tmp_path / "net.onnx", ["x"], ["y"], {"model": "test"})
    return path, net, {"x": np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)}


def test_the_exported_graph_passes_and_reports_its_scale(exported):
    path, net, inputs = exported
    parity = check_parity(path, net, inputs, {"atol": 1e-5, "rtol": 0.0})
    assert parity.rows == 10 and parity.max_abs_difference <= 1e-5
    with torch.no_grad():
        assert parity.max_abs_output == pytest.approx(float(net(torch.from_numpy(inputs["x"])).abs().max()))


def test_another_module_fails_naming_the_file_and_the_tolerance(exported):
    path, net, inputs = exported
    with torch.no_grad():
        net.bias += 0.01
    with pytest.raises(OnnxParityError, match=r"net\.onnx: onnxruntime and torch differ by .*export\.tolerance"):
        check_parity(path, net, inputs, {"atol": 1e-5, "rtol": 1e-5})
