"""ReLU stability over the optimiser's input box, by interval or LP bound propagation.

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
from scipy.optimize import linprog

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


def _weights(net: FaultMLP) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in net.linear_layers()]


def lp_preactivation_bounds(net: FaultMLP, low: np.ndarray, high: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden layer, LP bounds of the pre-activations over the box: variables are the inputs
    and every earlier layer's ReLU outputs, each ReLU relaxed to its triangle (HiGHS via scipy)."""
    layers = _weights(net)[:-1]
    low, high = low.ravel().astype(np.float64), high.ravel().astype(np.float64)
    n_in = len(low)
    w0, b0 = layers[0]
    center, radius = (low + high) / 2, (high - low) / 2
    bounds = [(w0 @ center + b0 - np.abs(w0) @ radius, w0 @ center + b0 + np.abs(w0) @ radius)]  # exact
    for k in range(1, len(layers)):
        widths = [n_in] + [w.shape[0] for w, _ in layers[:k]]
        starts = np.cumsum([0] + widths)
        n_var = starts[-1]
        var_bounds = list(zip(low, high))
        a_ub, b_ub, a_eq, b_eq = [], [], [], []
        for m in range(k):
            w, b = layers[m]
            lo, hi = bounds[m]
            for i in range(w.shape[0]):
                z = np.zeros(n_var)
                z[starts[m]:starts[m + 1]] = w[i]  # z = row . vars + b[i]
                a = np.zeros(n_var)
                a[starts[m + 1] + i] = 1.0
                if hi[i] <= 0:
                    var_bounds.append((0.0, 0.0))
                elif lo[i] >= 0:
                    var_bounds.append((lo[i], hi[i]))
                    a_eq.append(a - z)
                    b_eq.append(b[i])
                else:
                    slope = hi[i] / (hi[i] - lo[i])
                    var_bounds.append((0.0, hi[i]))
                    a_ub += [z - a, a - slope * z]
                    b_ub += [-b[i], slope * (b[i] - lo[i])]
        w, b = layers[k]
        lo_k, hi_k = np.empty(w.shape[0]), np.empty(w.shape[0])
        for j in range(w.shape[0]):
            c = np.zeros(n_var)
            c[starts[k]:starts[k + 1]] = w[j]
            ends = []
            for sign in (1.0, -1.0):
                res = linprog(sign * c, A_ub=np.array(a_ub) if a_ub else None, b_ub=b_ub or None,
                              A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None,
                              bounds=var_bounds, method="highs")
                if res.status != 0:
                    raise RuntimeError(f"bound LP for layer {k + 1} neuron {j} failed: {res.message}")
                ends.append(sign * res.fun + b[j])
            lo_k[j], hi_k[j] = ends[0], ends[1]
        # never looser than interval arithmetic from the previous layer's bounds
        prev_lo, prev_hi = (np.maximum(x, 0) for x in bounds[k - 1])
        c_prev, r_prev = (prev_hi + prev_lo) / 2, (prev_hi - prev_lo) / 2
        ibp_lo, ibp_hi = w @ c_prev + b - np.abs(w) @ r_prev, w @ c_prev + b + np.abs(w) @ r_prev
        bounds.append((np.maximum(lo_k, ibp_lo), np.minimum(hi_k, ibp_hi)))
    return bounds


def stable_neurons(net: FaultMLP, low: np.ndarray, high: np.ndarray, method: str = "interval") -> dict:
    """Counts of always-active, always-inactive and unstable hidden neurons, per layer and in all,
    with interval (`method="interval"`) or LP (`"lp"`) bounds over the box."""
    if method == "lp":
        bounds = lp_preactivation_bounds(net, low, high)
    elif method == "interval":
        with torch.no_grad():
            bounds = [(lo.numpy(), hi.numpy()) for lo, hi in
                      preactivation_bounds(net, torch.from_numpy(low), torch.from_numpy(high))]
    else:
        raise ValueError(f"method must be 'interval' or 'lp', got {method!r}")
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
