"""What one hour can earn at most: exact per-hour maxima of the network's piecewise-linear
profit, and the valid inequalities (hour-value cuts) they give the MILP.

With the maintenance count N fixed, an hour's gain at full output X,
    q_t(T, H) = X (R - c_t) - X (R + C) PWL(f(T, H)) - a_t |T_out,t - T|,
is piecewise linear in (T, H): f is affine on each linear region of the network (regions.py),
PWL(.) is linear between its breakpoints in the logit (level lines of f), and |.| kinks at
T = T_out,t. Its maximum over any strip H in [h_j, h_j+1] is attained at a vertex of that
arrangement, so evaluating q at every vertex (region corners, region edges crossing level
lines, T = T_out,t or H = h_j, and those lines crossing each other) gives it exactly.

The cuts. An hour's gain in the MILP, G_t = (R - c_t) x_t - (R + C) x_t p_t - a_t e_t, is at
most max over T of [x m_t(T, H_t) - a_t |T_out,t - T|], which is convex in x (a maximum of
lines): so with s = x / X it lies below the chord (1 - s) q0_t + s Qmax_t(H_t), q0_t being an
idle hour's best (T = T_out,t clipped to the box). Qmax_t(.) is bounded by the concave
envelope of its strip maxima, min_k (alpha_k + beta_k H); s times it is linear in s and
Hs = s H, and Hs is tied to s and H by McCormick's four inequalities. Every cut holds for
every feasible schedule (they only remove LP points), and it is what the LP relaxation lacks:
the relaxed network lets an hour reach a failure probability no (T, H) has.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pe

from pipeline.optimize.costs import Costs
from pipeline.optimize.encodings import NetworkEncoding
from pipeline.optimize.instance import Instance
from pipeline.optimize.linear import lin
from pipeline.optimize.plant import Press
from pipeline.optimize.regions import linear_regions

SAFETY = 1e-9  # relative margin on every maximum (floating point in the vertex coordinates)


def logit_breakpoints(enc: NetworkEncoding) -> np.ndarray:
    """Logit values where the PWL sigmoid changes slope (a superset is fine)."""
    sig = enc.sigmoid
    t = np.asarray(sig.tangents, float)
    s = 1 / (1 + np.exp(-t))
    g = s * (1 - s)
    cross = [(s[i + 1] - g[i + 1] * t[i + 1] - s[i] + g[i] * t[i]) / (g[i] - g[i + 1])
             for i in range(len(t) - 1) if g[i] != g[i + 1]]
    levels = np.concatenate([cross, np.asarray(sig.chords, float), [0.0]])
    return np.unique(levels[(levels > sig.lower) & (levels < sig.upper)])


@dataclass
class _Lines:
    """Every region as (vertices, affine logit); the box; the logit's breakpoints."""

    polys: list[np.ndarray]
    grads: np.ndarray      # [regions, 2]
    offsets: np.ndarray    # [regions]
    levels: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _edges(polys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every polygon edge as (start, end, region index)."""
    starts, ends, owner = [], [], []
    for r, poly in enumerate(polys):
        starts.append(poly)
        ends.append(np.roll(poly, -1, axis=0))
        owner.append(np.full(len(poly), r))
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(owner)


def _on_edges(lines: _Lines, coord: int, values: np.ndarray) -> np.ndarray:
    """Points where edges cross the lines T = v (coord 0) or H = v (coord 1), v in `values`."""
    p, q, _ = _edges(lines.polys)
    a, b = p[:, coord][:, None], q[:, coord][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (values[None, :] - a) / (b - a)
    ok = (frac >= 0) & (frac <= 1) & np.isfinite(frac)
    e, v = np.nonzero(ok)
    return p[e] + frac[e, v][:, None] * (q[e] - p[e])


def _level_points(lines: _Lines) -> np.ndarray:
    """Points where region edges cross the level lines f = level."""
    p, q, owner = _edges(lines.polys)
    fp = np.einsum("ij,ij->i", p, lines.grads[owner]) + lines.offsets[owner]
    fq = np.einsum("ij,ij->i", q, lines.grads[owner]) + lines.offsets[owner]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (lines.levels[None, :] - fp[:, None]) / (fq - fp)[:, None]
    ok = (frac >= 0) & (frac <= 1) & np.isfinite(frac)
    e, v = np.nonzero(ok)
    return p[e] + frac[e, v][:, None] * (q[e] - p[e])


def _inside(lines: _Lines, r: np.ndarray, pts: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Which points lie in their region's polygon (convex, either orientation)."""
    keep = np.ones(len(pts), bool)
    for region in np.unique(r):
        idx = np.flatnonzero(r == region)
        poly = lines.polys[region]
        e = np.roll(poly, -1, axis=0) - poly
        rel = pts[idx][:, None, :] - poly[None, :, :]
        cross = e[None, :, 0] * rel[:, :, 1] - e[None, :, 1] * rel[:, :, 0]
        scale = tol * (1 + np.abs(e).sum(axis=1))[None, :]
        keep[idx] = np.all(cross >= -scale, axis=1) | np.all(cross <= scale, axis=1)
    return keep


def _level_cross(lines: _Lines, coord: int, values: np.ndarray) -> np.ndarray:
    """Points where level lines f = level cross T = v (coord 0) or H = v (coord 1), inside their region."""
    other = 1 - coord
    rs, ls, vs = np.meshgrid(np.arange(len(lines.polys)), lines.levels, values, indexing="ij")
    rs, ls, vs = rs.ravel(), ls.ravel(), vs.ravel()
    g = lines.grads[rs]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (ls - lines.offsets[rs] - g[:, coord] * vs) / g[:, other]
    ok = np.isfinite(w)
    pts = np.zeros((ok.sum(), 2))
    pts[:, coord], pts[:, other] = vs[ok], w[ok]
    return pts[_inside(lines, rs[ok], pts)]


class HourValues:
    """The candidate vertices of one encoding's arrangement (cost- and price-independent, cached
    per outside temperature), and for an instance's hour and costs its strip maxima and cuts.
    One per press kind and maintenance count N serves every day of a horizon."""

    def __init__(self, enc: NetworkEncoding, n_strips: int):
        if len(enc.folded.inputs) != 2:
            raise ValueError("hour values need the two free inputs (T, H): N must be enumerated")
        if n_strips < 1:
            raise ValueError(f"optimize.formulation.hour_value_strips must be >= 1, got {n_strips}")
        regions = linear_regions(enc.folded, enc.bounds, enc.lo, enc.hi, min_area=0.0)
        self.lines = _Lines([r.vertices for r in regions], np.array([r.grad for r in regions]),
                            np.array([r.offset for r in regions]), logit_breakpoints(enc), enc.lo, enc.hi)
        self.strips = np.linspace(enc.lo[1], enc.hi[1], n_strips + 1)
        self.common = np.concatenate([np.concatenate(self.lines.polys), _level_points(self.lines),
                                      _on_edges(self.lines, 1, self.strips), _level_cross(self.lines, 1, self.strips)])
        self.enc = enc
        self._cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def candidates(self, t_out: float) -> tuple[np.ndarray, np.ndarray]:
        """Every vertex for an hour with outside temperature t_out, and PWL(f) there."""
        key = float(np.clip(t_out, self.enc.lo[0], self.enc.hi[0]))
        if key not in self._cache:
            tv = np.array([key])
            extra = np.concatenate([_on_edges(self.lines, 0, tv), _level_cross(self.lines, 0, tv),
                                    np.column_stack([np.full(len(self.strips), key), self.strips])])
            pts = np.clip(np.concatenate([self.common, extra]), self.enc.lo, self.enc.hi)
            # PWL(f) from the exact network, not the regions' affine maps
            self._cache[key] = pts, self.enc.sigmoid(self.enc.folded.logit(pts))
        return self._cache[key]

    def hour_gains(self, inst: Instance, press: Press, share: float, costs: Costs, t: int,
                   x: float) -> tuple[np.ndarray, np.ndarray]:
        """Candidate H values and hour t's gain there at output x (each at its candidate T), the
        press paying `share` of the room's energy."""
        pts, pwl = self.candidates(inst.outside_temperature[t])
        usd = inst.price[t] * inst.usd_per_kwh_per_usd_per_mwh
        margin = costs.revenue + costs.unit_bonus - usd * press.machine_kwh_per_unit
        gain = (x * margin - x * (costs.revenue + costs.penalty) * pwl
                - usd * share * costs.temperature_kwh * np.abs(inst.outside_temperature[t] - pts[:, 0]))
        return pts[:, 1], gain

    def idle_value(self, inst: Instance, share: float, costs: Costs, t: int) -> float:
        """q0_t: the best an idle hour can do (only the temperature term, T free in the box)."""
        usd = inst.price[t] * inst.usd_per_kwh_per_usd_per_mwh * share
        t_out = inst.outside_temperature[t]
        options = np.array([np.clip(t_out, self.enc.lo[0], self.enc.hi[0]), self.enc.lo[0], self.enc.hi[0]])
        return float(np.max(-usd * costs.temperature_kwh * np.abs(t_out - options)))

    def strip_maxima(self, inst: Instance, press: Press, share: float, costs: Costs, t: int) -> np.ndarray:
        """Max of hour t's gain at full output over each strip H in [h_j, h_j+1] (exact, + margin)."""
        h, gain = self.hour_gains(inst, press, share, costs, t, float(press.max_per_hour))
        tol = 1e-9 * (self.strips[-1] - self.strips[0])
        out = np.empty(len(self.strips) - 1)
        for j in range(len(out)):
            inside = (h >= self.strips[j] - tol) & (h <= self.strips[j + 1] + tol)
            out[j] = gain[inside].max()
        return out + SAFETY * (np.abs(out) + 1.0)

    def envelope(self, inst: Instance, press: Press, share: float, costs: Costs, t: int) -> list[tuple[float, float]]:
        """(alpha, beta) pieces of the concave envelope of the strip maxima (upper hull)."""
        m = self.strip_maxima(inst, press, share, costs, t)
        # the step function's concave envelope is the upper hull of its corners; at a strip
        # border the higher of the two neighbouring maxima counts
        ys = np.maximum(np.concatenate([m[:1], m]), np.concatenate([m, m[-1:]]))
        hull: list[tuple[float, float]] = []
        for p in zip(self.strips, ys):
            while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1])
                                      - (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0])) >= 0:
                hull.pop()
            hull.append(p)
        pieces = []
        for (h1, y1), (h2, y2) in zip(hull[:-1], hull[1:]):
            beta = (y2 - y1) / (h2 - h1)
            pieces.append((float(y1 - beta * h1), float(beta)))
        return pieces or [(float(m.max()), 0.0)]


def add_hour_value_cuts(m: pe.ConcreteModel, values: dict, keys: list, costs: Costs, inst: Instance) -> int:
    """(Re)build the cuts of a one-day model for `costs`, one family per press: `keys[k]` is
    press k's (kind, N). Each press is charged an equal share of the room's temperature energy,
    so the presses' cuts add up to a valid cut of the room's hour. Returns how many were added."""
    if hasattr(m, "hour_value"):
        m.del_component(m.hour_value)
    m.hour_value = pe.Block()
    blk = m.hour_value
    hours, presses = range(inst.hours), range(inst.presses)
    share = inst.room_share / sum(inst.weights)  # each physical press's share of the room's energy
    lo, hi = inst.humidity_box
    pairs = [(k, t) for k in presses for t in hours]
    # one Hs = s H per press and hour (indexed by the hour alone for one press, as before)
    index = {(k, t): ((k, t) if inst.presses > 1 else t) for k, t in pairs}
    blk.Hs = pe.Var(list(index.values()), bounds=(0, hi))
    X = {k: float(inst.rows[k].max_per_hour) for k in presses}
    bits = {k: range(int(inst.rows[k].max_per_hour).bit_length()) for k in presses}
    s = {index[k, t]: lin([2.0 ** i / X[k] for i in bits[k]], [m.u[k, t, i] for i in bits[k]]) for k, t in pairs}
    hour = {index[k, t]: t for k, t in pairs}
    keys_ = list(index.values())
    blk.mc_low = pe.Constraint(keys_, rule=lambda b, *i: blk.Hs[_one(i)] >= lo * s[_one(i)])
    blk.mc_high = pe.Constraint(keys_, rule=lambda b, *i: blk.Hs[_one(i)] <= hi * s[_one(i)])
    blk.mc_tie_high = pe.Constraint(keys_, rule=lambda b, *i: blk.Hs[_one(i)] >= m.H[hour[_one(i)]] - hi * (1 - s[_one(i)]))
    blk.mc_tie_low = pe.Constraint(keys_, rule=lambda b, *i: blk.Hs[_one(i)] <= m.H[hour[_one(i)]] - lo * (1 - s[_one(i)]))
    rows = []
    for k, t in pairs:
        press, hv = inst.rows[k], values[keys[k]]
        usd = inst.price[t] * inst.usd_per_kwh_per_usd_per_mwh
        margin = costs.revenue + costs.unit_bonus - usd * press.machine_kwh_per_unit
        fail, room = costs.revenue + costs.penalty, usd * share
        q0 = hv.idle_value(inst, share, costs, t)
        for alpha, beta in hv.envelope(inst, press, share, costs, t):
            # G_kt - (1 - s) q0 <= alpha s + beta Hs, written over u, w, e and Hs
            coefs = ([2.0 ** i * (margin + (q0 - alpha) / X[k]) for i in bits[k]]
                     + [-fail * 2.0 ** i for i in bits[k]] + [-room * costs.temperature_kwh, -beta])
            varlist = [*(m.u[k, t, i] for i in bits[k]), *(m.w[k, t, i] for i in bits[k]), m.eT[t], blk.Hs[index[k, t]]]
            rows.append(lin(coefs, varlist) <= q0)
    blk.cut = pe.Constraint(range(len(rows)), rule=lambda b, i: rows[i])
    return len(rows)


def _one(index: tuple):
    """A Pyomo rule's index arguments as the key they were built from (a bare hour, or (press, hour))."""
    return index[0] if len(index) == 1 else tuple(index)
