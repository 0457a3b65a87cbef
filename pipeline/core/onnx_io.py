"""ONNX export with metadata, and the one onnxruntime parity check every exported model passes
(tolerances from each model's conf: `export.tolerance`).

We use torch's TorchScript-based exporter (`dynamo=False`): it needs no onnxscript and
writes plain Gemm/Relu/LSTM graphs that OMLT and onnxruntime read.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
import onnx

from pipeline.core.validation import DataValidationError

if TYPE_CHECKING:  # torch is imported where a module is exported or run, so readers of ONNX files
    import torch   # (the optimiser, the monitor) never load it

METADATA_KEY = "tablet_pipeline"


def export(module: torch.nn.Module, example: torch.Tensor | tuple, path: str | Path,
           input_names: Sequence[str], output_names: Sequence[str], metadata: dict,
           opset: int = 17) -> Path:
    """Export `module` with a dynamic batch axis (dim 0) and our metadata as JSON."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args = example if isinstance(example, tuple) else (example,)
    axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
    module = module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes=axes,
                          opset_version=opset, dynamo=False)
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def read_metadata(path: str | Path, required: Sequence[str] = ()) -> dict:
    """Our metadata of an ONNX file; a clear error if it is missing or lacks `required` keys."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: ONNX model not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several types for a corrupt file
        raise DataValidationError(path, f"not a readable ONNX model ({exc})") from exc
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise DataValidationError(path, f"no '{METADATA_KEY}' metadata: export it with pipeline.core.onnx_io.export")
    meta = json.loads(props[METADATA_KEY])
    missing = [k for k in required if k not in meta]
    if missing:
        raise DataValidationError(path, f"metadata lacks {missing}")
    return meta


def session(path: str | Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # per-step latency; and no fight with the trainer for 2 cores
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class Parity:
    """How far onnxruntime's outputs are from torch's on the same inputs."""

    max_abs_difference: float  # largest |onnxruntime - torch| over every output element
    max_abs_output: float      # largest |torch output|: the scale the difference is judged against
    rows: int

    @property
    def relative(self) -> float:
        """max_abs_difference / max(1, max_abs_output): float32 rounding shows as ~1e-7."""
        return self.max_abs_difference / max(1.0, self.max_abs_output)


class OnnxParityError(AssertionError):
    """The exported graph computes something else than the torch module."""


def parity(path: str | Path, module: torch.nn.Module, inputs: dict[str, np.ndarray], batch: int = 4096) -> Parity:
    """onnxruntime against torch on `inputs` (named as the graph's inputs), in batches."""
    import torch

    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    n = len(next(iter(inputs.values())))
    worst, largest = 0.0, 0.0
    module = module.eval()
    for start in range(0, n, batch):
        chunk = {k: v[start : start + batch] for k, v in inputs.items()}
        ort_out = sess.run(None, chunk)
        with torch.no_grad():
            torch_out = module(*[torch.from_numpy(chunk[k]) for k in names])
        torch_out = torch_out if isinstance(torch_out, (tuple, list)) else (torch_out,)
        for a, b in zip(ort_out, torch_out):
            if a.size:
                worst = max(worst, float(np.max(np.abs(a - b.numpy()))))
                largest = max(largest, float(b.abs().max()))
    return Parity(worst, largest, n)


def max_abs_difference(path: str | Path, module: torch.nn.Module, inputs: dict[str, np.ndarray],
                       batch: int = 4096) -> float:
    """Largest |onnxruntime - torch| over all outputs, evaluated on `inputs` in batches."""
    return parity(path, module, inputs, batch).max_abs_difference


def check_parity(path: str | Path, module: torch.nn.Module, inputs: dict[str, np.ndarray],
                 tolerance: Mapping) -> Parity:
    """`parity`, failing the stage unless max |onnxruntime - torch| <= atol + rtol * max |torch output|
    (`tolerance`: the model's conf `export.tolerance`, {atol, rtol})."""
    result = parity(path, module, inputs)
    atol, rtol = float(tolerance["atol"]), float(tolerance["rtol"])
    allowed = atol + rtol * result.max_abs_output
    if not result.max_abs_difference <= allowed:
        raise OnnxParityError(f"{path}: onnxruntime and torch differ by {result.max_abs_difference:.3g} > "
                              f"{allowed:.3g} (export.tolerance atol {atol:g} + rtol {rtol:g} x max |output| "
                              f"{result.max_abs_output:.3g})")
    return result
