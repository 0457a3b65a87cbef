"""Convex-hull encoding over the network's linear regions (two free inputs: N enumerated)."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pe

from pipeline.core.relu_bounds import NeuronBounds
from pipeline.optimize.encodings.base import NetworkEncoding
from pipeline.optimize.encodings.bigm import relu_layers
from pipeline.optimize.linear import Affine, lin
from pipeline.optimize.regions import linear_regions


class RegionHullEncoding(NetworkEncoding):
    """One binary per linear region of the 2-input network (35-155 for our nets); the hour's
    (T, H) is split into per-region copies, only the chosen one non-zero (disaggregated
    formulation: its LP relaxation is the convex envelope of the network over the box).
    With N a free input (three inputs) there are no 2-D regions: the copy is big-M."""

    name = "regions"

    def refine_logit_bounds(self, bounds: NeuronBounds) -> None:
        self.regions = None
        if len(self.folded.inputs) != 2:
            return
        self.regions = linear_regions(self.folded, bounds, self.lo, self.hi)
        # the logit's exact range: an affine function's extremes on a polygon are at its vertices
        values = np.concatenate([r.vertices @ r.grad + r.offset for r in self.regions])
        bounds.lower[-1] = np.array([max(bounds.lower[-1][0], values.min())])
        bounds.upper[-1] = np.array([min(bounds.upper[-1][0], values.max())])

    def add(self, blk, free: dict) -> Affine:
        if self.regions is None:
            return relu_layers(blk, self, [free[name] for name in self.folded.inputs])
        T, H = (free[name] for name in self.folded.inputs)
        R = range(len(self.regions))
        blk.pick = pe.Var(R, domain=pe.Binary)
        blk.vT = pe.Var(R)
        blk.vH = pe.Var(R)
        blk.one_region = pe.Constraint(expr=lin([1.0] * len(R), [blk.pick[r] for r in R]) == 1)
        blk.split_T = pe.Constraint(expr=lin([1.0] + [-1.0] * len(R), [T, *(blk.vT[r] for r in R)]) == 0)
        blk.split_H = pe.Constraint(expr=lin([1.0] + [-1.0] * len(R), [H, *(blk.vH[r] for r in R)]) == 0)
        faces = [(r, float(a1), float(a2), float(c)) for r, reg in enumerate(self.regions)
                 for (a1, a2), c in zip(reg.A, reg.c)]
        blk.in_region = pe.Constraint(range(len(faces)), rule=lambda _, i: (
            faces[i][1] * blk.vT[faces[i][0]] + faces[i][2] * blk.vH[faces[i][0]] <= faces[i][3] * blk.pick[faces[i][0]]))
        coefs, variables = [], []
        for r, reg in enumerate(self.regions):
            coefs += [reg.grad[0], reg.grad[1], reg.offset]
            variables += [blk.vT[r], blk.vH[r], blk.pick[r]]
        return Affine(np.array(coefs, float), variables, 0.0)

    def stats(self) -> dict:
        return super().stats() | {"linear_regions": None if self.regions is None else len(self.regions)}
