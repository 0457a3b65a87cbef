"""The fault DNN as the optimiser sees it: read from ONNX through OMLT, checked against the
fault DNN's contract, then folded into plain affine layers over the *raw* free inputs.

Folding: the scaling x_s = (x - offset) / factor and the fixed inputs (pressure, speed,
vibration; and the maintenance count once it is fixed) are absorbed into the first layer's
weights and bias, so every hourly copy of the network starts from its two or three free
inputs. Exact algebra: folded and original networks agree to float rounding (tested).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from pipeline.contracts import fault_log
from pipeline.contracts.fault_model import INPUT, REQUIRED_METADATA, validate_metadata
from pipeline.core.onnx_io import read_metadata
from pipeline.core.validation import DataValidationError

FEATURES = tuple(fault_log.FEATURES)  # the fault DNN's input order (a tuple: read-only here)
N_INPUT = "maintenance_cycles"  # the input the optimiser enumerates (one sub-model per count)


class BoundsOutsideTrainingWarning(UserWarning):
    """The optimiser's box leaves the range the network was trained on."""


@dataclass
class FaultNetwork:
    """Dense ReLU layers (W: [in, out], b: [out]) over raw inputs in FEATURES order."""

    path: Path
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    offset: np.ndarray
    factor: np.ndarray
    train_min: np.ndarray
    train_max: np.ndarray

    def logit(self, raw: np.ndarray) -> np.ndarray:
        """Forward pass in float64 on raw inputs [n, 6] (the ONNX graph computes in float32)."""
        h = (np.asarray(raw, float) - self.offset) / self.factor
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def fold(self, fixed: dict[str, float]) -> "FoldedNetwork":
        """Absorb scaling and the `fixed` inputs into layer 1; the rest stay free, in FEATURES order."""
        unknown = set(fixed) - set(FEATURES)
        if unknown:
            raise KeyError(f"fold: unknown inputs {sorted(unknown)}; inputs are {list(FEATURES)}")
        free = [n for n in FEATURES if n not in fixed]
        w1, b1 = self.weights[0], self.biases[0]
        scaled_w = w1 / self.factor[:, None]            # d(layer 1)/d(raw input)
        bias = b1 - (self.offset / self.factor) @ w1     # layer 1 at raw input 0
        for name, value in fixed.items():
            bias = bias + float(value) * scaled_w[FEATURES.index(name)]
        first = scaled_w[[FEATURES.index(n) for n in free]]
        return FoldedNetwork(free, [first, *self.weights[1:]], [bias, *self.biases[1:]])

    def check_box(self, box: dict[str, tuple[float, float]]) -> list[str]:
        """Warn (and return the messages) where the optimiser's box leaves the training range."""
        messages = []
        for name, (lo, hi) in box.items():
            i = FEATURES.index(name)
            tmin, tmax = float(self.train_min[i]), float(self.train_max[i])
            if lo < tmin - 1e-9 or hi > tmax + 1e-9:
                messages.append(f"{name}: optimiser range [{lo:g}, {hi:g}] leaves the network's training "
                                f"range [{tmin:g}, {tmax:g}] ({self.path}); its predictions there are extrapolation")
        for message in messages:
            warnings.warn(message, BoundsOutsideTrainingWarning, stacklevel=2)
        return messages


@dataclass
class FoldedNetwork:
    """Layer 1 acts on the free raw inputs `inputs`; hidden layers ReLU; last layer the logit."""

    inputs: list[str]
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def logit(self, free: np.ndarray) -> np.ndarray:
        h = np.asarray(free, float)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]


def load_fault_network(path: str | Path) -> FaultNetwork:
    """Read and check the fault DNN: six inputs in contract order, min-max scaling, one logit
    output, dense ReLU layers. Anything else is refused with the reason and the file."""
    from omlt.io import load_onnx_neural_network
    from omlt.neuralnet.layer import DenseLayer

    path = Path(path)
    meta = read_metadata(path, REQUIRED_METADATA)
    checked = validate_metadata(meta, path)  # inputs, scaling and training range vs the contract
    model = onnx.load(str(path))
    graph_inputs = [i.name for i in model.graph.input]
    if graph_inputs != [INPUT] or [o.name for o in model.graph.output] != [meta["output"]]:
        raise DataValidationError(path, f"graph must have input [{INPUT!r}] and output [{meta['output']!r}], "
                                        f"got {graph_inputs} -> {[o.name for o in model.graph.output]}")
    try:
        net = load_onnx_neural_network(model)
    except Exception as exc:  # OMLT raises several types for graphs it does not understand
        raise DataValidationError(path, f"OMLT cannot read the graph ({exc})") from exc
    dense = [layer for layer in net.layers if isinstance(layer, DenseLayer)]
    if len(dense) != len(list(net.layers)) - 1 or not dense:
        raise DataValidationError(path, "only Gemm/MatMul+Add layers with ReLU are supported")
    acts = [layer.activation for layer in dense]
    if any(a != "relu" for a in acts[:-1]) or acts[-1] != "linear":
        raise DataValidationError(path, f"activations must be relu... then linear (the logit), got {acts}; "
                                        "export logits and leave the sigmoid outside the graph")
    weights = [np.asarray(layer.weights, float) for layer in dense]
    if weights[0].shape[0] != 6 or weights[-1].shape[1] != 1:
        raise DataValidationError(path, f"network maps {weights[0].shape[0]} inputs to {weights[-1].shape[1]} "
                                        "outputs; the contract is 6 -> 1")
    return FaultNetwork(path, weights, [np.asarray(layer.biases, float).reshape(-1) for layer in dense],
                        checked.scaling.offset, checked.scaling.factor, checked.train_min, checked.train_max)
