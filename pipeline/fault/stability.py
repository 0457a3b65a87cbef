"""ReLU stability over the optimiser's input box, by interval bound propagation.

A hidden neuron whose pre-activation is >= 0 over the whole box is always active, <= 0 always
inactive: the MILP needs no binary for it. Interval bounds are sound (a neuron counted stable
is provably stable) but loose beyond the first layer, so the count is a lower bound.
The same bounds, kept differentiable, give the ReLU-stability penalty of Xiao et al. (2019),
-tanh(1 + l*u), which pushes each neuron's interval off zero during training.
"""
from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from pipeline.data.fault_schema import FEATURES
from pipeline.fault.network import FaultMLP
from pipeline.fault.scaling import MinMaxScaling


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


def preactivation_bounds(net: FaultMLP, low: torch.Tensor, high: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(lower, upper) of every hidden layer's pre-activations over the box [low, high]."""
    bounds = []
    linears = net.linear_layers()
    for layer in linears[:-1]:
        center, radius = (high + low) / 2, (high - low) / 2
        mid = center @ layer.weight.T + layer.bias
        spread = radius @ layer.weight.abs().T
        lo, hi = mid - spread, mid + spread
        bounds.append((lo.squeeze(0), hi.squeeze(0)))
        low, high = torch.relu(lo), torch.relu(hi)  # ReLU is monotone: bounds pass through
    return bounds


def stable_neurons(net: FaultMLP, low: np.ndarray, high: np.ndarray) -> dict:
    """Counts of always-active, always-inactive and unstable hidden neurons, per layer and in all."""
    with torch.no_grad():
        bounds = preactivation_bounds(net, torch.from_numpy(low), torch.from_numpy(high))
    layers = []
    for lo, hi in bounds:
        active, inactive = int((lo >= 0).sum()), int((hi <= 0).sum())
        layers.append({"neurons": len(lo), "active": active, "inactive": inactive,
                       "unstable": len(lo) - active - inactive})
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
