"""Big-M ReLU encoding over the folded network: binaries only where a neuron can change sign."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pe

from pipeline.optimize.encodings.base import NetworkEncoding
from pipeline.optimize.linear import Affine, lin


class BigMEncoding(NetworkEncoding):
    """Per unstable neuron with bounds L < 0 < U: y >= pre, y <= pre - L (1 - d), y <= U d, y >= 0.

    Stable neurons (`stable_neurons_without_binaries`) are linear (always active) or absent
    (always inactive). With `one_sided_output`, last-layer neurons with a non-negative output
    weight need only y >= pre, y >= 0: the objective always pushes the logit down (a lower p is
    better whenever the hour produces), so y settles at max(pre, 0)."""

    name = "bigm"

    def add(self, blk, free: dict) -> Affine:
        return relu_layers(blk, self, [free[name] for name in self.folded.inputs])


def relu_layers(blk, enc: NetworkEncoding, inputs: list) -> Affine:
    """Add the hidden layers to `blk`; return the logit as an affine map over inputs and ReLU outputs."""
    weights, biases, bounds = enc.folded.weights, enc.folded.biases, enc.bounds
    one_sided = bool(enc.opts.one_sided_output)
    skip_stable = bool(enc.opts.stable_neurons_without_binaries)
    variables = list(inputs)
    C = np.eye(len(inputs))            # the current layer's values as affine maps of `variables`
    c = np.zeros(len(inputs))
    blk.y = pe.VarList(domain=pe.NonNegativeReals)
    blk.d = pe.VarList(domain=pe.Binary)
    above, below_pre, below_on = [], [], []   # y >= pre, y <= pre - L (1 - d), y <= U d
    for k in range(len(weights) - 1):
        w, b, L, U = weights[k], biases[k], bounds.lower[k], bounds.upper[k]
        P, q = w.T @ C, w.T @ c + b    # pre-activations
        last_hidden = k == len(weights) - 2
        out_w = weights[k + 1][:, 0] if last_hidden else None
        rows, consts = [], []
        for j in range(w.shape[1]):
            if skip_stable and U[j] <= 0:
                rows.append(np.zeros(len(variables)))
                consts.append(0.0)
                continue
            if skip_stable and L[j] >= 0:
                rows.append(P[j].copy())
                consts.append(q[j])
                continue
            y = blk.y.add()
            y.setub(max(float(U[j]), 0.0))
            pre = (P[j], variables[:P.shape[1]])
            above.append(lin(np.append(-pre[0], 1.0), [*pre[1], y], -q[j]) >= 0)
            if not (one_sided and last_hidden and out_w[j] >= 0):
                d = blk.d.add()
                lo, hi = min(float(L[j]), 0.0), max(float(U[j]), 0.0)
                below_pre.append(lin(np.append(-pre[0], [1.0, -lo]), [*pre[1], y, d], -q[j] + lo) <= 0)
                below_on.append(lin([1.0, -hi], [y, d]) <= 0)
            variables.append(y)
            row = np.zeros(len(variables))
            row[-1] = 1.0
            rows.append(row)
            consts.append(0.0)
        width = len(variables)
        C = np.array([np.pad(r, (0, width - len(r))) for r in rows])
        c = np.array(consts)
    blk.relu_above_pre = pe.Constraint(range(len(above)), rule=lambda _, i: above[i])
    blk.relu_below_pre = pe.Constraint(range(len(below_pre)), rule=lambda _, i: below_pre[i])
    blk.relu_below_on = pe.Constraint(range(len(below_on)), rule=lambda _, i: below_on[i])
    w, b = weights[-1], biases[-1]
    return Affine((w.T @ C)[0], variables, float((w.T @ c + b)[0]))
