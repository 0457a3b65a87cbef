"""ONNX export of the fault DNN in the optimiser's contract (pipeline/contracts/fault_model.py)
and a weights-only state_dict beside it."""
from __future__ import annotations

from pathlib import Path

import torch

from pipeline.contracts.fault_log import FEATURES
from pipeline.contracts.fault_model import INPUT, OUTPUT
from pipeline.core import onnx_io
from pipeline.fault.network import FaultMLP


def export_model(net: FaultMLP, onnx_path: Path, pt_path: Path, meta: dict, opset: int) -> Path:
    """models/fault_dnn.onnx and models/fault_dnn.pt (weights-only state_dict of FaultMLP)."""
    net = net.eval().cpu()
    example = torch.zeros(2, len(FEATURES), dtype=torch.float32)
    onnx_io.export(net, example, onnx_path, [INPUT], [OUTPUT], meta, opset=opset)
    pt_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), pt_path)
    return onnx_path
