"""p = sigmoid(logit) as a piecewise-linear under-estimator with a proven error bound.

sigmoid is convex for z <= 0 and concave for z >= 0. On the convex part we use the maximum
of tangents (no binaries: `p >= tangent_i(z)` is exact in the direction the objective
pushes, which always wants p small); on the concave part the chords between breakpoints
(an incremental formulation with binaries, only built where the logit can be positive).
Both lie below sigmoid, so the MILP's p is in [sigmoid(z) - eps, sigmoid(z)], and the
breakpoints are placed so that eps <= `tolerance`, checked on a dense grid (the reported
bound is the largest gap measured there plus a margin for the grid).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pe

from pipeline.optimize.linear import Affine, lin


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, float)))


@dataclass
class SigmoidPWL:
    lower: float                 # logit range [lower, upper] (from the bounds)
    upper: float
    tangents: np.ndarray         # tangent points on the convex part (z <= 0)
    chords: np.ndarray           # breakpoints on the concave part (z >= 0), ascending
    error_bound: float           # max over [lower, upper] of sigmoid - pwl

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z, float)
        out = np.full(z.shape, -np.inf)
        zc = np.minimum(z, 0.0)
        for t in self.tangents:
            s = sigmoid(t)
            out = np.maximum(out, s + s * (1 - s) * (zc - t))
        if len(self.chords) >= 2:
            pos = np.clip(z, self.chords[0], self.chords[-1])
            out = np.where(z > 0, np.interp(pos, self.chords, sigmoid(self.chords)), out)
        return out


def _tangents(lo: float, hi: float, tol: float) -> np.ndarray:
    """Tangent points on [lo, hi] (hi <= 0) so that max-of-tangents is within tol of sigmoid."""
    points = [lo]
    while points[-1] < hi:
        t = points[-1]
        s = sigmoid(t)
        # grow the next tangent point until the gap at the two tangents' crossing exceeds tol
        step, nxt = (hi - t), hi
        while step > 1e-6:
            cand = t + step
            sc = sigmoid(cand)
            d1, d2 = s * (1 - s), sc * (1 - sc)
            cross = (sc - d2 * cand - s + d1 * t) / (d1 - d2) if d1 != d2 else (t + cand) / 2
            gap = sigmoid(cross) - (s + d1 * (cross - t))
            if gap <= tol:
                nxt = cand
                break
            step /= 1.5
        else:
            nxt = t + 1e-6
        points.append(min(nxt, hi))
    return np.unique(np.array(points))


def build(lower: float, upper: float, tolerance: float) -> SigmoidPWL:
    """Breakpoints for the logit range [lower, upper] with error at most `tolerance`."""
    if not upper >= lower:
        raise ValueError(f"logit range [{lower}, {upper}] is empty")
    if tolerance <= 0:
        raise ValueError(f"sigmoid tolerance must be positive, got {tolerance}")
    margin = tolerance / 4  # keeps the grid-checked bound below `tolerance`
    tangents = _tangents(lower, min(upper, 0.0), tolerance - margin) if lower < 0 else np.array([0.0])
    chords = np.array([])
    if upper > 0:
        lo = max(lower, 0.0)
        # interpolation error of a concave function <= h^2/8 max|f''|; max|sigmoid''| = 1/(6 sqrt 3)
        h = np.sqrt(8 * (tolerance - margin) * 6 * np.sqrt(3))
        pieces = max(1, int(np.ceil((upper - lo) / h)))
        chords = np.linspace(lo, upper, pieces + 1)
    pwl = SigmoidPWL(lower, upper, tangents, chords, 0.0)
    # the gap is 0.25-Lipschitz (both slopes lie in [0, 1/4]): a grid this fine bounds it within tol/8
    grid = np.linspace(lower, upper, max(2001, int(np.ceil(2 * (upper - lower) / tolerance)) + 1))
    measured = float(np.max(sigmoid(grid) - pwl(grid)))
    if measured < -1e-12:
        raise AssertionError("PWL above sigmoid: not an under-estimator")
    # between grid points the gap can grow by at most max|slope difference| * spacing
    pwl.error_bound = measured + 0.25 * (grid[1] - grid[0]) / 2
    if pwl.error_bound > tolerance:
        raise AssertionError(f"sigmoid PWL error {pwl.error_bound:g} above tolerance {tolerance:g}")
    return pwl


def add_sigmoid(blk, sig: SigmoidPWL, z: Affine, p) -> None:
    """p >= PWL(z) in Pyomo block `blk`: tangents on z <= 0, chords with an incremental
    formulation on z >= 0 (binaries only where the logit can be positive)."""
    zc, zv, z0 = z.coefs, z.variables, z.constant

    def tangent(t: float) -> tuple[float, float]:  # sigmoid(t) and its slope
        s = float(1 / (1 + math.exp(-t)))
        return s, s * (1 - s)

    if sig.upper <= 0:  # p >= s + g (z - t) for each tangent point t
        cuts = [lin(np.append(-g * np.asarray(zc, float), 1.0), [*zv, p], -(s + g * (z0 - t))) >= 0
                for s, g, t in ((*tangent(t), t) for t in sig.tangents)]
        blk.sigmoid_tangent = pe.Constraint(range(len(cuts)), rule=lambda _, i: cuts[i])
        return
    blk.zpos = pe.Var(bounds=(0, sig.upper))
    n_pieces = len(sig.chords) - 1
    widths = np.diff(sig.chords)
    blk.seg = pe.Var(range(n_pieces), bounds=lambda m, i: (0, widths[i]))
    vals = 1 / (1 + np.exp(-sig.chords))
    slopes = np.diff(vals) / widths
    if n_pieces > 1:  # segment i+1 may fill only once segment i is full
        blk.full = pe.Var(range(n_pieces - 1), domain=pe.Binary)
        blk.segment_full = pe.Constraint(range(n_pieces - 1), rule=lambda _, i: blk.seg[i] >= widths[i] * blk.full[i])
        blk.segment_next = pe.Constraint(range(n_pieces - 1),
                                         rule=lambda _, i: blk.seg[i + 1] <= widths[i + 1] * blk.full[i])
    blk.zpos_sum = pe.Constraint(expr=blk.zpos == float(sig.chords[0]) + sum(blk.seg[i] for i in range(n_pieces)))
    segs = [blk.seg[i] for i in range(n_pieces)]
    if sig.lower >= 0:
        blk.logit_split = pe.Constraint(expr=lin(np.append(zc, -1.0), [*zv, blk.zpos], z0) == 0)
        blk.sigmoid_chord = pe.Constraint(expr=lin(np.append(-slopes, 1.0), [*segs, p], -float(vals[0])) >= 0)
        return
    # the logit may take either sign: z = zneg + zpos with a sign binary
    blk.positive = pe.Var(domain=pe.Binary)
    blk.zneg = pe.Var(bounds=(sig.lower, 0))
    blk.q = pe.Var(bounds=(0, 0.5))
    blk.logit_split = pe.Constraint(expr=lin(np.append(zc, [-1.0, -1.0]), [*zv, blk.zneg, blk.zpos], z0) == 0)
    blk.negative_part = pe.Constraint(expr=blk.zneg >= sig.lower * (1 - blk.positive))
    blk.positive_part = pe.Constraint(expr=blk.zpos <= sig.upper * blk.positive)
    cuts = [lin([1.0, -g], [blk.q, blk.zneg], -(s - g * t)) >= 0 for s, g, t in ((*tangent(t), t) for t in sig.tangents)]
    blk.sigmoid_tangent = pe.Constraint(range(len(cuts)), rule=lambda _, i: cuts[i])
    blk.sigmoid_chord = pe.Constraint(expr=lin(np.append(-slopes, [1.0, -1.0]), [*segs, p, blk.q],
                                               -(float(vals[0]) - 0.5)) >= 0)
