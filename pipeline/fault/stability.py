"""ReLU stability over the optimiser's input box, by interval or LP bound propagation
(pipeline.core.relu_bounds, the optimiser's own bounds).

A hidden neuron whose pre-activation is >= 0 over the whole box is always active, <= 0 always
inactive: the MILP needs no binary for it. Both bounds are sound (a neuron counted stable is
provably stable). Interval bounds are exact on the first layer and loose beyond it; the LP
bounds (each earlier ReLU replaced by its triangle relaxation, maintenance count continuous)
are tighter, so they prove more neurons stable. Both counts are lower bounds of the truth.
The same bounds, kept differentiable, give the ReLU-stability penalty of Xiao et al. (2019),
-tanh(1 + l*u), which pushes each neuron's interval off zero during training.
"""
from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from pipeline.contracts.fault_log import FEATURES
from pipeline.contracts.fault_model import MinMaxScaling
from pipeline.core.relu_bounds import NeuronBounds, interval_bounds, tighten
from pipeline.fault.network import FaultMLP


def box_bounds(box: DictConfig, scaling: MinMaxScaling) -> tuple[np.ndarray, np.ndarray]:
    """The box (fixed values or [low, high] per input, raw units) in the scaled input space."""
    low, high = [], []
    for name in FEATURES:
        value = box[name]
        lo, hi = (float(value[0]), float(value[1])) if hasattr(value, "__len__") else (float(value), float(value))
        if lo > hi:
            raise ValueError(f"model.fault.stability_box.{name}: low {lo} > high {hi}")
        low.append(lo)
        high.append(hi)
    return scaling.apply(np.array([low])), scaling.apply(np.array([high]))


def _layers(net: FaultMLP, dtype=None) -> tuple[list, list]:
    """The network's layers as [in, out] weights and biases (torch, or numpy in `dtype`)."""
    linears = net.linear_layers()
    if dtype is None:
        return [m.weight.T for m in linears], [m.bias for m in linears]
    return ([m.weight.detach().numpy().astype(dtype).T for m in linears],
            [m.bias.detach().numpy().astype(dtype) for m in linears])


def preactivation_bounds(net: FaultMLP, low: torch.Tensor, high: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(lower, upper) of every hidden layer's pre-activations over the box [low, high] (differentiable)."""
    bounds = interval_bounds(*_layers(net), low, high)
    return [(lo.squeeze(0), hi.squeeze(0)) for lo, hi in zip(bounds.lower[:-1], bounds.upper[:-1])]


def lp_preactivation_bounds(net: FaultMLP, low: np.ndarray, high: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden layer, LP bounds of the pre-activations over the box (pipeline.core.relu_bounds.tighten)."""
    bounds = tighten(*_layers(net, np.float64), low.ravel().astype(np.float64), high.ravel().astype(np.float64))
    return list(zip(bounds.lower[:-1], bounds.upper[:-1]))


def stable_neurons(net: FaultMLP, low: np.ndarray, high: np.ndarray, method: str = "interval") -> dict:
    """Counts of always-active, always-inactive and unstable hidden neurons, per layer and in all,
    with interval (`method="interval"`) or LP (`"lp"`) bounds over the box."""
    if method == "lp":
        bounds = tighten(*_layers(net, np.float64), low.ravel().astype(np.float64), high.ravel().astype(np.float64))
    elif method == "interval":
        with torch.no_grad():
            bounds = interval_bounds(*_layers(net), torch.from_numpy(low), torch.from_numpy(high))
        bounds = NeuronBounds([lo.squeeze(0).numpy() for lo in bounds.lower], [hi.squeeze(0).numpy() for hi in bounds.upper])
    else:
        raise ValueError(f"method must be 'interval' or 'lp', got {method!r}")
    layers = bounds.layer_counts()
    total = {key: sum(layer[key] for layer in layers) for key in ("neurons", "active", "inactive", "unstable")}
    return {**total, "stable": total["active"] + total["inactive"], "layers": layers}


def stability_penalty(net: FaultMLP, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Mean over hidden neurons of -tanh(1 + l*u): near -1 when stable, higher when l < 0 < u."""
    terms = [-torch.tanh(1.0 + lo * hi) for lo, hi in preactivation_bounds(net, low, high)]
    return torch.cat(terms).mean()


def l1_penalty(net: FaultMLP) -> torch.Tensor:
    return torch.cat([layer.weight.abs().flatten() for layer in net.linear_layers()]).mean()


def prune(net: FaultMLP, below: float) -> int:
    """Set weights with |w| < below to exactly zero; returns how many were zeroed."""
    zeroed = 0
    with torch.no_grad():
        for layer in net.linear_layers():
            small = layer.weight.abs() < below
            zeroed += int(small.sum())
            layer.weight[small] = 0.0
    return zeroed
