"""ONNX export of the fault DNN (the optimiser's contract) and its onnxruntime check.

Contract: input "x" float32 [batch, 6] in FEATURES order, min-max scaled with the offset and
factor stored in the metadata; output "logit" float32 [batch, 1]; probability = sigmoid(logit)
outside the graph. Scaling lives in the metadata (not in the graph) because OMLT takes it
as its own scaling object and wants input bounds in the scaled space.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.core import onnx_io
from pipeline.data.fault_schema import FEATURES, UNITS
from pipeline.fault.network import FaultMLP
from pipeline.fault.scaling import MinMaxScaling

INPUT, OUTPUT = "x", "logit"
REQUIRED_METADATA = ("model", "inputs", "units", "scaling", "train_min", "train_max", "output", "probability")


def metadata(scaling: MinMaxScaling, train_raw: np.ndarray, extra: dict | None = None) -> dict:
    return {"model": "fault_dnn", "inputs": list(FEATURES), "units": list(UNITS), "scaling": scaling.metadata(),
            "train_min": train_raw.min(axis=0).tolist(), "train_max": train_raw.max(axis=0).tolist(),
            "output": OUTPUT, "probability": "sigmoid(logit)", **(extra or {})}


def export_model(net: FaultMLP, onnx_path: Path, pt_path: Path, meta: dict, opset: int) -> Path:
    """models/fault_dnn.onnx and models/fault_dnn.pt (weights-only state_dict of FaultMLP)."""
    net = net.eval().cpu()
    example = torch.zeros(2, len(FEATURES), dtype=torch.float32)
    onnx_io.export(net, example, onnx_path, [INPUT], [OUTPUT], meta, opset=opset)
    pt_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), pt_path)
    return onnx_path


def check_equivalence(onnx_path: Path, net: FaultMLP, x_scaled: np.ndarray, tolerance: float) -> float:
    """max |onnxruntime - torch| on `x_scaled`; an error above `tolerance`."""
    worst = onnx_io.max_abs_difference(onnx_path, net, {INPUT: np.ascontiguousarray(x_scaled, dtype=np.float32)})
    if not worst <= tolerance:
        raise AssertionError(f"{onnx_path}: onnxruntime and torch differ by {worst:.3g} > {tolerance:g}")
    return worst
