"""Bounds on every pre-activation of a dense ReLU network over an input box.

The one copy of this algorithm in the project: the fault stage counts provably stable
neurons with it and trains against its interval bounds (differentiable: it runs on torch
tensors as well as numpy arrays), the optimiser takes its big-M values from it.

Layers are given as `weights` [in, out] and `biases` [out] (x @ W + b); every layer but the
last is followed by a ReLU. Interval arithmetic is exact on the first layer and loose beyond
it; `tighten` bounds the deeper layers over the LP relaxation of the layers before them
(each unstable ReLU replaced by its triangle), or exactly with one small MILP per neuron.
A neuron whose bounds are both >= 0 is always active, <= 0 always inactive: it needs no
binary. All bounds are sound: a neuron counted stable is provably stable.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix


@dataclass
class NeuronBounds:
    """Pre-activation bounds per layer (the last layer's entries are the network's outputs)."""

    lower: list
    upper: list

    def unstable(self, layer: int) -> np.ndarray:
        return (self.lower[layer] < 0) & (self.upper[layer] > 0)

    def count_unstable(self) -> int:
        return int(sum(self.unstable(k).sum() for k in range(len(self.lower) - 1)))

    def layer_counts(self) -> list[dict[str, int]]:
        """Always-active, always-inactive and unstable neurons of each hidden layer."""
        out = []
        for lo, hi in zip(self.lower[:-1], self.upper[:-1]):
            active, inactive = int((lo >= 0).sum()), int((hi <= 0).sum())
            out.append({"neurons": len(lo), "active": active, "inactive": inactive,
                        "unstable": len(lo) - active - inactive})
        return out

    @property
    def logit(self) -> tuple[float, float]:
        return float(self.lower[-1][0]), float(self.upper[-1][0])


def _relu(z):
    return z.relu() if hasattr(z, "relu") else np.maximum(z, 0.0)  # torch tensor or numpy array


def interval_bounds(weights: Sequence, biases: Sequence, lo, hi) -> NeuronBounds:
    """Interval arithmetic (centre and radius) through all layers; numpy or torch inputs."""
    lower, upper = [], []
    for w, b in zip(weights, biases):
        center, radius = (hi + lo) / 2, (hi - lo) / 2
        mid, spread = center @ w + b, radius @ abs(w)
        z_lo, z_hi = mid - spread, mid + spread
        lower.append(z_lo)
        upper.append(z_hi)
        lo, hi = _relu(z_lo), _relu(z_hi)  # ReLU is monotone: bounds pass through
    return NeuronBounds(lower, upper)


class _Relaxation:
    """The LP (or, `exact`, MILP) relaxation of the layers before `layer`, as scipy matrices:
    per hidden layer a pre-activation a, an output y and an indicator d per neuron."""

    def __init__(self, weights, biases, lo, hi, bounds: NeuronBounds, layer: int, exact: bool):
        n_in = len(lo)
        sizes = [w.shape[1] for w in weights[:layer]]
        self.n = n_in + 3 * sum(sizes)
        rows, cols, vals, lb_c, ub_c = [], [], [], [], []
        var_lo, var_hi = np.full(self.n, -np.inf), np.full(self.n, np.inf)
        var_lo[:n_in], var_hi[:n_in] = lo, hi
        self.integrality = np.zeros(self.n)
        prev, pos, r = np.arange(n_in), n_in, 0

        def row(entries: dict, low: float, high: float) -> None:
            nonlocal r
            rows.extend([r] * len(entries))
            cols.extend(entries)
            vals.extend(entries.values())
            lb_c.append(low)
            ub_c.append(high)
            r += 1

        for k, n in enumerate(sizes):
            a0, y0, d0 = pos, pos + n, pos + 2 * n
            pos += 3 * n
            w, b = weights[k], biases[k]
            L, U = bounds.lower[k], bounds.upper[k]
            for j in range(n):  # a_j - sum_i w_ij y_i = b_j
                rows.extend([r] * (len(prev) + 1))
                cols.extend([a0 + j, *prev])
                vals.extend([1.0, *(-w[:, j])])
                lb_c.append(b[j])
                ub_c.append(b[j])
                r += 1
            var_lo[a0:a0 + n], var_hi[a0:a0 + n] = L, U
            var_lo[d0:d0 + n], var_hi[d0:d0 + n] = 0, 1
            for j in range(n):
                a, y, d = a0 + j, y0 + j, d0 + j
                if L[j] >= 0:      # always active: y = a
                    row({y: 1.0, a: -1.0}, 0.0, 0.0)
                    var_lo[y], var_hi[y], var_hi[d] = L[j], U[j], 0
                elif U[j] <= 0:    # always inactive: y = 0
                    var_lo[y], var_hi[y], var_hi[d] = 0, 0, 0
                else:
                    var_lo[y], var_hi[y] = 0, U[j]
                    row({y: 1.0, a: -1.0}, 0.0, np.inf)                          # y >= a
                    if exact:      # y <= a - L (1 - d), y <= U d
                        self.integrality[d] = 1
                        row({y: 1.0, a: -1.0, d: -L[j]}, -np.inf, -L[j])
                        row({y: 1.0, d: -U[j]}, -np.inf, 0.0)
                    else:          # triangle: y <= U (a - L) / (U - L)
                        s = U[j] / (U[j] - L[j])
                        row({y: 1.0, a: -s}, -np.inf, -s * L[j])
            prev = np.arange(y0, y0 + n)
        self.prev = prev
        self.A = coo_matrix((vals, (rows, cols)), shape=(r, self.n)).tocsr()
        self.lb_c, self.ub_c = np.array(lb_c, float), np.array(ub_c, float)
        self.var_lo, self.var_hi, self.exact = var_lo, var_hi, exact

    def extreme(self, c_prev: np.ndarray, maximise: bool) -> float:
        """min (or max) of c_prev . y_{layer-1} over the relaxation (scipy's HiGHS)."""
        c = np.zeros(self.n)
        c[self.prev] = -c_prev if maximise else c_prev
        res = milp(c, constraints=LinearConstraint(self.A, self.lb_c, self.ub_c),
                   integrality=self.integrality if self.exact else None,
                   bounds=Bounds(self.var_lo, self.var_hi), options={"disp": False, "mip_rel_gap": 1e-9})
        if res.status != 0:
            raise RuntimeError(f"bound tightening LP failed: {res.message}")
        return -res.fun if maximise else res.fun


def tighten(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], lo, hi, exact: bool = False) -> NeuronBounds:
    """LP-based (or, with `exact`, MILP-based) bounds for every layer after the first.

    Each layer is bounded over the relaxation of the already tightened layers before it, so
    tightening compounds. Only neurons that interval arithmetic leaves unstable (and the
    outputs) are re-solved: a stable neuron's interval bounds are already final in sign,
    which is all a formulation needs besides its big-M values.
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    bounds = interval_bounds(weights, biases, lo, hi)
    for layer in range(1, len(weights)):
        relaxation = _Relaxation(weights, biases, lo, hi, bounds, layer, exact)
        w, b = weights[layer], biases[layer]
        last = layer == len(weights) - 1
        for j in range(w.shape[1]):
            if not last and (bounds.lower[layer][j] >= 0 or bounds.upper[layer][j] <= 0):
                continue
            low = relaxation.extreme(w[:, j], maximise=False) + b[j]
            high = relaxation.extreme(w[:, j], maximise=True) + b[j]
            bounds.lower[layer][j] = max(bounds.lower[layer][j], low)
            bounds.upper[layer][j] = min(bounds.upper[layer][j], high)
        # the later layers' interval bounds from the tightened ones
        rest = interval_bounds(weights[layer + 1:], biases[layer + 1:],
                               _relu(bounds.lower[layer]), _relu(bounds.upper[layer]))
        for k, (l2, u2) in enumerate(zip(rest.lower, rest.upper)):
            bounds.lower[layer + 1 + k] = np.maximum(bounds.lower[layer + 1 + k], l2)
            bounds.upper[layer + 1 + k] = np.minimum(bounds.upper[layer + 1 + k], u2)
    return bounds
