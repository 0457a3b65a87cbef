"""Bounds on every neuron of a folded network over the optimiser's input box.

Layer 1 is affine in the inputs, so interval arithmetic is exact there. Deeper layers get
LP-based bound tightening (minimise and maximise each pre-activation over the LP relaxation
of the layers before it, with the ReLU triangle relaxation) and, optionally, exact bounds
from a small MILP per neuron that is still unstable. Computed once per input box and
shared by all hourly copies of the network (they all see the same box).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from pipeline.optimize.network import FoldedNetwork


@dataclass
class NeuronBounds:
    """Pre-activation bounds per layer (the last layer's single entry is the logit)."""

    lower: list[np.ndarray]
    upper: list[np.ndarray]

    def unstable(self, layer: int) -> np.ndarray:
        return (self.lower[layer] < 0) & (self.upper[layer] > 0)

    def count_unstable(self) -> int:
        return int(sum(self.unstable(k).sum() for k in range(len(self.lower) - 1)))

    @property
    def logit(self) -> tuple[float, float]:
        return float(self.lower[-1][0]), float(self.upper[-1][0])


def interval_bounds(net: FoldedNetwork, lo: np.ndarray, hi: np.ndarray) -> NeuronBounds:
    """Interval arithmetic through all layers (what OMLT does)."""
    lower, upper = [], []
    a_lo, a_hi = np.asarray(lo, float), np.asarray(hi, float)
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        wp, wn = np.clip(w, 0, None), np.clip(w, None, 0)
        z_lo, z_hi = a_lo @ wp + a_hi @ wn + b, a_hi @ wp + a_lo @ wn + b
        lower.append(z_lo)
        upper.append(z_hi)
        a_lo, a_hi = np.maximum(z_lo, 0), np.maximum(z_hi, 0)
    return NeuronBounds(lower, upper)


class _Prefix:
    """The LP/MILP relaxation of the layers before `layer`, as scipy matrices."""

    def __init__(self, net: FoldedNetwork, lo, hi, bounds: NeuronBounds, layer: int, exact: bool):
        n_in = len(lo)
        sizes = [w.shape[1] for w in net.weights[:layer]]
        self.offsets, pos = [], n_in
        for n in sizes:  # per hidden layer: pre-activation a, output y, indicator d
            self.offsets.append((pos, pos + n, pos + 2 * n))
            pos += 3 * n
        self.n = pos
        rows, cols, vals, lb_c, ub_c = [], [], [], [], []
        var_lo, var_hi = np.full(pos, -np.inf), np.full(pos, np.inf)
        var_lo[:n_in], var_hi[:n_in] = lo, hi
        integrality = np.zeros(pos)
        r = 0
        prev = np.arange(n_in)
        for k, n in enumerate(sizes):
            a0, y0, d0 = self.offsets[k]
            w, b = net.weights[k], net.biases[k]
            L, U = bounds.lower[k], bounds.upper[k]
            for j in range(n):
                # a_j - sum_i w_ij y_i = b_j
                rows += [r] * (len(prev) + 1)
                cols += [a0 + j, *prev]
                vals += [1.0, *(-w[:, j])]
                lb_c.append(b[j]); ub_c.append(b[j]); r += 1
            var_lo[a0:a0 + n], var_hi[a0:a0 + n] = L, U
            var_lo[d0:d0 + n], var_hi[d0:d0 + n] = 0, 1
            for j in range(n):
                a, y, d = a0 + j, y0 + j, d0 + j
                if L[j] >= 0:      # always active: y = a
                    rows += [r, r]; cols += [y, a]; vals += [1.0, -1.0]; lb_c.append(0); ub_c.append(0); r += 1
                    var_lo[y], var_hi[y], var_hi[d] = L[j], U[j], 0
                elif U[j] <= 0:    # always inactive: y = 0
                    var_lo[y], var_hi[y], var_hi[d] = 0, 0, 0
                else:
                    var_lo[y], var_hi[y] = 0, U[j]
                    rows += [r, r]; cols += [y, a]; vals += [1.0, -1.0]; lb_c.append(0); ub_c.append(np.inf); r += 1
                    if exact:     # y <= a - L (1 - d), y <= U d
                        integrality[d] = 1
                        rows += [r, r, r]; cols += [y, a, d]; vals += [1.0, -1.0, -L[j]]
                        lb_c.append(-np.inf); ub_c.append(-L[j]); r += 1
                        rows += [r, r]; cols += [y, d]; vals += [1.0, -U[j]]
                        lb_c.append(-np.inf); ub_c.append(0); r += 1
                    else:         # triangle: y <= U (a - L) / (U - L)
                        s = U[j] / (U[j] - L[j])
                        rows += [r, r]; cols += [y, a]; vals += [1.0, -s]
                        lb_c.append(-np.inf); ub_c.append(-s * L[j]); r += 1
            prev = np.arange(y0, y0 + n)
        self.prev = prev
        self.A = coo_matrix((vals, (rows, cols)), shape=(r, pos)).tocsr()
        self.lb_c, self.ub_c = np.array(lb_c, float), np.array(ub_c, float)
        self.var_lo, self.var_hi, self.integrality = var_lo, var_hi, integrality
        self.exact = exact

    def extreme(self, c_prev: np.ndarray, maximise: bool) -> float:
        """min (or max) of c_prev . y_{layer-1} over the relaxation."""
        c = np.zeros(self.n)
        c[self.prev] = -c_prev if maximise else c_prev
        integrality = self.integrality if self.exact else None  # scipy's milp solves LPs too (HiGHS)
        res = milp(c, constraints=LinearConstraint(self.A, self.lb_c, self.ub_c), integrality=integrality,
                   bounds=Bounds(self.var_lo, self.var_hi), options={"disp": False, "mip_rel_gap": 1e-9})
        if res.status != 0:
            raise RuntimeError(f"bound tightening LP failed: {res.message}")
        return -res.fun if maximise else res.fun


def tighten(net: FoldedNetwork, lo, hi, exact: bool = False) -> NeuronBounds:
    """LP-based (or, with `exact`, MILP-based) bounds for every layer after the first.

    Each layer is bounded over the relaxation built from the already tightened layers before
    it, so tightening compounds. Only neurons that interval arithmetic leaves unstable (or
    that bound the logit) are re-solved; a stable neuron's interval bounds are already final
    in sign, which is all the formulation needs besides the big-M values.
    """
    bounds = interval_bounds(net, lo, hi)
    for layer in range(1, len(net.weights)):
        prefix = _Prefix(net, np.asarray(lo, float), np.asarray(hi, float), bounds, layer, exact)
        w, b = net.weights[layer], net.biases[layer]
        last = layer == len(net.weights) - 1
        for j in range(w.shape[1]):
            if not last and (bounds.lower[layer][j] >= 0 or bounds.upper[layer][j] <= 0):
                continue
            low = prefix.extreme(w[:, j], maximise=False) + b[j]
            high = prefix.extreme(w[:, j], maximise=True) + b[j]
            bounds.lower[layer][j] = max(bounds.lower[layer][j], low)
            bounds.upper[layer][j] = min(bounds.upper[layer][j], high)
        # later layers' interval bounds from the tightened ones
        rest = interval_bounds(FoldedNetwork(net.inputs, net.weights[layer + 1:], net.biases[layer + 1:]),
                               np.maximum(bounds.lower[layer], 0), np.maximum(bounds.upper[layer], 0))
        for k, (l2, u2) in enumerate(zip(rest.lower, rest.upper)):
            bounds.lower[layer + 1 + k] = np.maximum(bounds.lower[layer + 1 + k], l2)
            bounds.upper[layer + 1 + k] = np.minimum(bounds.upper[layer + 1 + k], u2)
    return bounds
