"""One press's day at a fixed maintenance count N, by dynamic programming over the humidity:
a proven upper bound and a schedule in milliseconds, before (and usually instead of) the MILP.

Why it works. With N fixed the network sees (T_t, H_t) only, and p = PWL(f(T, H)) is piecewise
linear on an arrangement of convex cells (the network's linear regions, cut by the PWL
sigmoid's level lines; regions.py, hour_values.py). At a fixed humidity h an hour's gain at
output x,
    g_t(x, T, h) = x (R + lambda - c_t) - x (R + C) p(T, h) - a_t |T_out,t - T|,
is piecewise linear in T, so its maximum over T lies where the line H = h crosses a cell edge,
on T = T_out,t, or at the box's ends; along each cell edge (and along T = T_out,t inside a
cell) T, p and the gain are linear in h. So the best gain over any humidity interval is the
best of those segments' values at the interval's ends: exact, computed for every hour and every
one of C equal humidity cells at once (`CellValues`). Hours are coupled only through the
humidity change cost c_t |H_t - H_t-1|, the N maintenances of the day and the demand:
- bound: a DP over (cell, maintenances so far) in which an hour earns its cell's best (or the
  idle hour's best) and a move between cells costs at least c_t times their distance (nothing
  for the same or a neighbouring cell); the demand is priced by a Lagrange multiplier lambda
  (a bonus per unit; each hour is then full or idle, its gain being convex in x), so
  UB(lambda) = DP(lambda) - lambda D bounds the day for every lambda >= 0;
- schedule: the DP's path with each producing hour at its cell's best point and each idle hour
  keeping the humidity where its cell allows, valued exactly; where the demand binds, the path
  of the smallest lambda that meets it, surplus units taken back in the hours that lose most.
The DP's bound exceeds the schedule by at most the humidity moves inside cells (C cells:
c_t x width / C each) and, with a binding demand, the partial hour; the search (solve.py) runs
the MILP only where that is not within the gap target, with the DP's schedule as its cutoff.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.optimize.hour_values import logit_breakpoints
from pipeline.optimize.regions import _clip, linear_regions

LAMBDA_STEPS = 30   # Lagrange steps on the day's demand (each a DP: milliseconds)


@dataclass
class Arrangement:
    """Every edge of every cell on which p = PWL(f(T, H)) is affine, for one network copy."""

    P: np.ndarray        # [edges, 2] (T, H) start points
    Q: np.ndarray        # [edges, 2] end points
    pP: np.ndarray       # PWL p at the starts
    pQ: np.ndarray
    lo: np.ndarray       # box (T, H)
    hi: np.ndarray

    @classmethod
    def of(cls, enc) -> "Arrangement":
        regions = linear_regions(enc.folded, enc.bounds, enc.lo, enc.hi, min_area=0.0)
        levels = logit_breakpoints(enc)
        cells = []
        for reg in regions:
            values = reg.vertices @ reg.grad + reg.offset
            current = reg.vertices
            for level in levels[(levels > values.min()) & (levels < values.max())]:
                below = _clip(current, reg.grad, reg.offset - level)
                if len(below) >= 3:
                    cells.append(below)
                current = _clip(current, -reg.grad, level - reg.offset)
                if len(current) < 3:
                    break
            if len(current) >= 3:
                cells.append(current)
        P = np.concatenate(cells)
        Q = np.concatenate([np.roll(c, -1, axis=0) for c in cells])
        keep = np.hypot(*(Q - P).T) > 1e-12
        P, Q = np.clip(P[keep], enc.lo, enc.hi), np.clip(Q[keep], enc.lo, enc.hi)
        p = enc.sigmoid(enc.folded.logit(np.concatenate([P, Q])))
        return cls(P, Q, p[: len(P)], p[len(P):], np.asarray(enc.lo, float), np.asarray(enc.hi, float))

    def cross(self, coord: int, value: float) -> tuple[np.ndarray, np.ndarray]:
        """(points [n, 2], p) where the line T = value (coord 0) or H = value (coord 1) crosses
        an edge (p is linear along each edge)."""
        d = self.Q[:, coord] - self.P[:, coord]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (value - self.P[:, coord]) / d
        hit = (np.abs(d) > 1e-12) & (f >= -1e-12) & (f <= 1 + 1e-12)
        f = np.clip(f[hit], 0, 1)
        points = self.P[hit] + f[:, None] * (self.Q[hit] - self.P[hit])
        return points, self.pP[hit] + f * (self.pQ[hit] - self.pP[hit])


@dataclass
class _Pairs:
    """Evaluation points: for each (segment, cell) overlap, the segment's two ends inside the cell."""

    cell: np.ndarray
    T: np.ndarray        # [pairs, 2]
    H: np.ndarray
    p: np.ndarray
    starts: np.ndarray   # first pair of each cell (pairs sorted by cell); cells without pairs: -1


def _pairs(h0, h1, T0, T1, p0, p1, lo: float, width: float, cells: int) -> _Pairs:
    """Segments (h0 < h1, T and p linear in h) cut into the humidity cells they cross."""
    j0 = np.clip(np.floor((h0 - lo) / width).astype(int), 0, cells - 1)
    j1 = np.clip(np.floor((h1 - lo) / width).astype(int), 0, cells - 1)
    counts = j1 - j0 + 1
    seg = np.repeat(np.arange(len(h0)), counts)
    offset = np.arange(len(seg)) - np.repeat(np.cumsum(counts) - counts, counts)
    cell = j0[seg] + offset
    a = np.maximum(h0[seg], lo + cell * width)
    b = np.minimum(h1[seg], lo + (cell + 1) * width)
    span = h1[seg] - h0[seg]
    fa, fb = (a - h0[seg]) / span, (b - h0[seg]) / span
    T = np.column_stack([T0[seg] + fa * (T1[seg] - T0[seg]), T0[seg] + fb * (T1[seg] - T0[seg])])
    p = np.column_stack([p0[seg] + fa * (p1[seg] - p0[seg]), p0[seg] + fb * (p1[seg] - p0[seg])])
    order = np.argsort(cell, kind="stable")
    cell, T, p, H = cell[order], T[order], p[order], np.column_stack([a, b])[order]
    starts = np.full(cells, -1)
    first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    starts[cell[first]] = first
    return _Pairs(cell, T, H, p, starts)


@dataclass
class CellValues:
    """For one network copy (kind, N) and C humidity cells: the segments inside every cell, and
    per outside temperature the segments along T = T_out (cached)."""

    arrangement: Arrangement
    cells: int
    edges: _Pairs = field(init=False)
    _vertical: dict = field(default_factory=dict)
    _best: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = self.arrangement
        self.lo, self.width = arr.lo[1], (arr.hi[1] - arr.lo[1]) / self.cells
        up = arr.Q[:, 1] >= arr.P[:, 1]
        A, B = np.where(up[:, None], arr.P, arr.Q), np.where(up[:, None], arr.Q, arr.P)
        pA, pB = np.where(up, arr.pP, arr.pQ), np.where(up, arr.pQ, arr.pP)
        slanted = B[:, 1] - A[:, 1] > 1e-12
        self.edges = _pairs(A[slanted, 1], B[slanted, 1], A[slanted, 0], B[slanted, 0], pA[slanted], pB[slanted],
                            self.lo, self.width, self.cells)

    def vertical(self, tau: float) -> _Pairs | None:
        """The line T = tau (an outside temperature inside the box) cut at every edge it crosses."""
        arr = self.arrangement
        if not arr.lo[0] < tau < arr.hi[0]:
            return None
        key = round(float(tau), 12)
        if key not in self._vertical:
            points, p = arr.cross(0, tau)
            h = points[:, 1]
            order = np.argsort(h, kind="stable")
            h, p = h[order], p[order]
            step = np.diff(h) > 1e-12
            h0, h1, p0, p1 = h[:-1][step], h[1:][step], p[:-1][step], p[1:][step]
            tt = np.full(len(h0), float(tau))
            self._vertical[key] = _pairs(h0, h1, tt, tt, p0, p1, self.lo, self.width, self.cells) if len(h0) else None
        return self._vertical[key]

    def best(self, x: float, margin: float, fail: float, energy: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
        """Max over each cell of x margin - x fail p - energy |tau - T| (USD), and its value at
        each cell's lower border (exact: the segments crossing that border, and T = tau). The
        part without the margin is kept per (x, fail, energy, tau): a new Lagrange price or
        revenue only shifts it."""
        key = (float(x), float(fail), float(energy), float(tau))
        if key not in self._best:
            if len(self._best) > 4096:
                self._best.clear()
            self._best[key] = self._best_shape(*key)
        out, border = self._best[key]
        return out + x * margin, border + x * margin

    def _best_shape(self, x: float, fail: float, energy: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
        out, border, _ = self.priced(x, fail, energy, tau, 0.0)
        return out, border

    def priced(self, x: float, fail: float, energy: float, tau: float,
               price_T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Max over each cell of -x fail p - energy |tau - T| + price_T T, its value at each cell's
        lower border, and the T of each cell's maximum (room_dp.py prices the temperature)."""
        out = np.full(self.cells, -np.inf)
        border = np.full(self.cells, -np.inf)
        arg_T = np.zeros(self.cells)
        for pairs in (self.edges, self.vertical(tau)):
            if pairs is None:
                continue
            value = -x * fail * pairs.p - energy * np.abs(tau - pairs.T) + price_T * pairs.T
            present = pairs.starts >= 0
            starts = pairs.starts[present]
            best_pair = value.max(axis=1)
            cell_max = np.maximum.reduceat(best_pair, starts)
            # the T where each cell's maximum is reached (first pair attaining it)
            first = np.minimum.reduceat(np.where(best_pair == np.repeat(cell_max, np.diff(np.r_[starts, len(best_pair)])),
                                                 np.arange(len(best_pair)), len(best_pair)), starts)
            T_at = pairs.T[first, value[first].argmax(axis=1)]
            cells = np.flatnonzero(present)
            better = cell_max > out[cells]
            out[cells] = np.where(better, cell_max, out[cells])
            arg_T[cells] = np.where(better, T_at, arg_T[cells])
            at_border = np.where(pairs.H[:, 0] == self.lo + pairs.cell * self.width, value[:, 0], -np.inf)
            border[present] = np.maximum(border[present], np.maximum.reduceat(at_border, starts))
        return out, border, arg_T

    def at(self, h: float, x: float, margin: float, fail: float, energy: float, tau: float) -> tuple[float, float, float]:
        """(value, T, p) of the best T at humidity h exactly: where H = h crosses an edge, or T = tau."""
        arr = self.arrangement
        points, p = arr.cross(1, h)
        T = points[:, 0]
        if arr.lo[0] < tau < arr.hi[0] and len(T):  # T = tau between the crossings around it
            order = np.argsort(T)
            Ts, ps = T[order], p[order]
            k = np.clip(np.searchsorted(Ts, tau), 1, len(Ts) - 1)
            if Ts[k] > Ts[k - 1]:
                w = (tau - Ts[k - 1]) / (Ts[k] - Ts[k - 1])
                T, p = np.append(T, tau), np.append(p, ps[k - 1] + w * (ps[k] - ps[k - 1]))
        value = x * margin - x * fail * p - energy * np.abs(tau - T)
        i = int(np.argmax(value))
        return float(value[i]), float(T[i]), float(p[i])


def _cone(F: np.ndarray, slope: float, free_neighbours: bool) -> tuple[np.ndarray, np.ndarray]:
    """G(j) = max_j' F(j') - slope d(j, j') and the j' attaining it; d = |j - j'| between points,
    or max(0, |j - j'| - 1) between cells (a move into a neighbouring cell may cost nothing)."""
    n = len(F)
    idx = np.arange(n)
    if free_neighbours:
        cand = np.stack([np.r_[F[1:], -np.inf], F, np.r_[-np.inf, F[:-1]]])  # F(j+1), F(j), F(j-1)
        pick = np.argmax(cand, axis=0)
        Hv, Hsrc = cand[pick, idx], idx + np.array([1, 0, -1])[pick]
    else:
        Hv, Hsrc = F, idx
    fwd = Hv + slope * idx
    run = np.maximum.accumulate(fwd)
    src_f = np.maximum.accumulate(np.where(fwd == run, idx, 0))
    G1 = run - slope * idx
    bwd = (Hv - slope * idx)[::-1]
    runb = np.maximum.accumulate(bwd)
    src_b = (n - 1) - np.maximum.accumulate(np.where(bwd == runb, idx, 0))
    G2 = runb[::-1] + slope * idx
    use_b = G2 > G1
    src = np.where(use_b, src_b[::-1], src_f)
    return np.where(use_b, G2, G1), Hsrc[src]


@dataclass
class DayProblem:
    """One press's day at a fixed maintenance count: everything the DP needs, in plain numbers."""

    values: CellValues
    margin: np.ndarray        # R - c_t per unit (USD), without the Lagrange bonus
    fail: float               # R + C_pen
    energy_T: np.ndarray      # a_t: USD per C of |T_out - T| this press pays
    energy_H: np.ndarray      # USD per %RH of humidity change this press pays
    tau: np.ndarray           # T_out per hour
    X: int                    # units in a full hour
    Xm: int                   # units in a maintenance hour
    maintenance_cost: float
    maintenances: int         # to place today (N minus those made before)
    start: float | None       # H before the first hour (None: free)
    demand: int | None


@dataclass
class DayAnswer:
    bound: float
    schedule: dict | None     # T, H, x, b (hour arrays) and value, or None
    value: float
    lam: float


def _idle(prob: DayProblem) -> np.ndarray:
    lo, hi = prob.values.arrangement.lo[0], prob.values.arrangement.hi[0]
    return -prob.energy_T * np.maximum(0.0, np.maximum(lo - prob.tau, prob.tau - hi))


def _run(prob: DayProblem, full: np.ndarray, mfull: np.ndarray, lam: float, cells: bool):
    """DP over (humidity cell or border point, maintenances so far); (value, positions, actions)
    of the best path. cells=True: the bound (cell maxima, moves at their least cost); False: a
    schedule (values at the cells' lower borders, moves at their exact cost).
    Actions: 0 idle, 1 full, 2 maintenance idle, 3 maintenance full."""
    hours, C, M = len(prob.tau), prob.values.cells, prob.maintenances
    idle = _idle(prob)
    lo, width = prob.values.lo, prob.values.width
    edges = lo + width * np.arange(C)
    if prob.start is None:
        F = np.zeros(C)
    elif cells:
        F = -prob.energy_H[0] * np.maximum(0.0, np.maximum(edges - prob.start, prob.start - (edges + width)))
    else:
        F = -prob.energy_H[0] * np.abs(edges - prob.start)
    layers = np.full((M + 1, C), -np.inf)
    layers[0] = 0.0
    back_act = np.zeros((hours, M + 1, C), dtype=np.int8)
    back_src = np.zeros((hours, M + 1, C), dtype=np.int32)
    for t in range(hours):
        if t == 0:
            moved = np.where(np.isfinite(layers), layers + F[None, :], -np.inf)
            src = np.tile(np.arange(C), (M + 1, 1))
        else:
            moved, src = np.full((M + 1, C), -np.inf), np.tile(np.arange(C), (M + 1, 1))
            for m in range(M + 1):
                if np.isfinite(layers[m]).any():
                    moved[m], src[m] = _cone(layers[m], prob.energy_H[t] * width, cells)
        gain, mgain = full[t] + lam * prob.X, mfull[t] + lam * prob.Xm
        work, work_act = np.maximum(idle[t], gain), np.where(gain > idle[t], 1, 0)
        maint = np.maximum(idle[t], mgain) - prob.maintenance_cost
        maint_act = np.where(mgain > idle[t], 3, 2)
        new = moved + work[None, :]
        act = np.broadcast_to(work_act, (M + 1, C)).copy()
        srcs = src.copy()
        if M > 0:
            alt = moved[:-1] + maint[None, :]
            better = alt > new[1:]
            new[1:] = np.where(better, alt, new[1:])
            act[1:] = np.where(better, np.broadcast_to(maint_act, (M, C)), act[1:])
            srcs[1:] = np.where(better, src[:-1], srcs[1:])
        layers = new
        back_act[t], back_src[t] = act, srcs
    j = int(np.argmax(layers[M]))
    value = float(layers[M, j])
    where, actions, m = np.zeros(hours, dtype=int), np.zeros(hours, dtype=int), M
    for t in range(hours - 1, -1, -1):
        where[t], actions[t] = j, back_act[t, m, j]
        prev = back_src[t, m, j]
        if actions[t] >= 2:
            m -= 1
        j = int(prev)
    return value, where, actions


def _schedule(prob: DayProblem, points: np.ndarray, actions: np.ndarray) -> dict:
    """A point path's decisions: each hour at its border point's humidity, producing hours at
    their best temperature there, idle hours at the outside temperature (clipped to the box)."""
    cv = prob.values
    box_lo, box_hi = cv.arrangement.lo, cv.arrangement.hi
    H = np.clip(cv.lo + cv.width * points, box_lo[1], box_hi[1])
    T = np.clip(prob.tau, box_lo[0], box_hi[0]).astype(float)
    x = np.where(actions == 1, prob.X, np.where(actions == 3, prob.Xm, 0)).astype(int)
    p = np.zeros(len(points))
    for t in np.flatnonzero(x):
        _, T[t], p[t] = cv.at(H[t], x[t], prob.margin[t], prob.fail, prob.energy_T[t], prob.tau[t])
    return {"T": T, "H": H, "x": x, "b": (actions >= 2).astype(int), "p": p}


def value_of(prob: DayProblem, s: dict) -> float:
    """The schedule's exact gain (USD, no bonus): production, maintenance, the room's energy share."""
    prev = np.concatenate([[prob.start if prob.start is not None else s["H"][0]], s["H"][:-1]])
    return float(np.sum(s["x"] * (prob.margin - prob.fail * s["p"]) - prob.energy_T * np.abs(prob.tau - s["T"])
                        - prob.energy_H * np.abs(s["H"] - prev)) - prob.maintenance_cost * s["b"].sum())


def _trim(prob: DayProblem, s: dict) -> dict:
    """Units above the demand that lose money, taken back where they lose most (each hour's T
    re-chosen for its new output at its humidity)."""
    if prob.demand is None:
        return s
    s = {k: v.copy() for k, v in s.items()}
    surplus = int(s["x"].sum()) - prob.demand
    unit = prob.margin - prob.fail * s["p"]
    for t in np.argsort(unit):
        if surplus <= 0 or unit[t] >= 0:
            break
        take = min(int(s["x"][t]), surplus)
        if take:
            s["x"][t] -= take
            surplus -= take
            if s["x"][t] > 0:
                _, s["T"][t], s["p"][t] = prob.values.at(s["H"][t], s["x"][t], prob.margin[t], prob.fail,
                                                         prob.energy_T[t], prob.tau[t])
            else:
                s["T"][t] = float(np.clip(prob.tau[t], prob.values.arrangement.lo[0], prob.values.arrangement.hi[0]))
    return s


def solve_day(prob: DayProblem) -> DayAnswer:
    """The DP's bound and schedule (see the module); lambda searched where the demand binds."""
    cv = prob.values
    hours = range(len(prob.tau))
    full = [cv.best(prob.X, prob.margin[t], prob.fail, prob.energy_T[t], prob.tau[t]) for t in hours]
    mfull = [cv.best(prob.Xm, prob.margin[t], prob.fail, prob.energy_T[t], prob.tau[t]) for t in hours]
    cell_full, point_full = np.array([f[0] for f in full]), np.array([f[1] for f in full])
    cell_m, point_m = np.array([f[0] for f in mfull]), np.array([f[1] for f in mfull])
    demand = prob.demand or 0

    def bound_at(lam: float) -> tuple[float, int]:
        value, where, actions = _run(prob, cell_full, cell_m, lam, cells=True)
        made = int(np.where(actions == 1, prob.X, np.where(actions == 3, prob.Xm, 0)).sum())
        return value - lam * demand, made

    def schedule_at(lam: float) -> dict:
        _, where, actions = _run(prob, point_full, point_m, lam, cells=False)
        return _schedule(prob, where, actions)

    bound, made = bound_at(0.0)
    best = None
    s = schedule_at(0.0)
    if int(s["x"].sum()) >= demand:
        best = (value_of(prob, s), s, 0.0)
    if made < demand or best is None:
        lo_pt, hi_pt = (0.0, bound, made - demand), None
        top = prob.fail + float(np.max(np.abs(prob.margin))) + prob.maintenance_cost + 1.0
        for _ in range(LAMBDA_STEPS):
            if hi_pt is None:
                lam = top
            else:
                (l1, f1, s1), (l2, f2, s2) = lo_pt, hi_pt
                cross = (f2 - f1 + s1 * l1 - s2 * l2) / (s1 - s2) if s1 != s2 else (l1 + l2) / 2
                lam = float(np.clip(cross, l1 + 0.05 * (l2 - l1), l2 - 0.05 * (l2 - l1)))
            ub, made = bound_at(lam)
            bound = min(bound, ub)
            if made >= demand:
                hi_pt = (lam, ub, made - demand)
            else:
                lo_pt = (lam, ub, made - demand)
            if hi_pt is not None and hi_pt[0] - lo_pt[0] < 1e-7 * max(hi_pt[0], 1.0):
                break
        for lam in sorted({lo_pt[0], hi_pt[0]} if hi_pt else {lo_pt[0]}):
            s = schedule_at(lam)
            if int(s["x"].sum()) >= demand:
                trimmed = _trim(prob, s)
                v = value_of(prob, trimmed)
                if best is None or v > best[0]:
                    best = (v, trimmed, lam)
            else:
                filled = _fill(prob, s)
                if filled is not None:
                    v = value_of(prob, filled)
                    if best is None or v > best[0]:
                        best = (v, filled, lam)
    if best is None:
        return DayAnswer(bound, None, -math.inf, 0.0)
    return DayAnswer(bound, best[1], best[0], best[2])


def _fill(prob: DayProblem, s: dict) -> dict | None:
    """Units added where they cost least, up to the demand (each hour's T re-chosen for its new
    output at its humidity); None if the capacity does not reach it."""
    s = {k: v.copy() for k, v in s.items()}
    cap = np.where(s["b"] == 1, prob.Xm, prob.X)
    missing = int(prob.demand or 0) - int(s["x"].sum())
    values = [prob.values.at(s["H"][t], cap[t], prob.margin[t], prob.fail, prob.energy_T[t], prob.tau[t])
              for t in range(len(cap))]
    unit = np.array([v[0] for v in values]) / np.maximum(cap, 1)
    for t in np.argsort(-unit):
        if missing <= 0:
            break
        add = min(int(cap[t] - s["x"][t]), missing)
        if add > 0:
            s["x"][t] += add
            missing -= add
            _, s["T"][t], s["p"][t] = prob.values.at(s["H"][t], s["x"][t], prob.margin[t], prob.fail,
                                                     prob.energy_T[t], prob.tau[t])
    return s if missing <= 0 else None


def problem_of(schedule, sub, cells: int) -> DayProblem | None:
    """The DP's view of a one-press, one-day sub-model (the schedule's costs, start and demand
    now); None where the DP does not apply."""
    inst = schedule.instance
    n = sub.n_fixed.get((0, 0))
    if inst.presses != 1 or len(inst.days) != 1 or n is None or len(sub.encodings) != 1:
        return None
    enc = next(iter(sub.encodings.values()))
    if len(enc.folded.inputs) != 2:
        return None
    cell_values = cells_of(enc, cells)
    costs, press = schedule.costs, inst.rows[0]
    usd = inst.price * inst.usd_per_kwh_per_usd_per_mwh
    share = inst.room_share
    return DayProblem(cell_values, costs.revenue + costs.unit_bonus - usd * press.machine_kwh_per_unit,
                      costs.revenue + costs.penalty, usd * share * costs.temperature_kwh,
                      usd * share * costs.humidity_kwh, np.asarray(inst.outside_temperature, float),
                      press.max_per_hour, press.capacity_in_maintenance_hour, costs.maintenance,
                      n - int(inst.maintenance_done[0, 0]), schedule.start_humidity,
                      int(inst.demand[0]) if schedule.demand_on else None)


_CELLS: dict[tuple, CellValues] = {}
MAX_CACHED_CELLS = 256


def cells_of(enc, cells: int) -> CellValues:
    """The CellValues of a network copy, kept per process by the copy's content (day models of
    the same press kind, rebuilt or unpickled, share them)."""
    fingerprint = enc.__dict__.get("_dp_fingerprint")
    if fingerprint is None:
        digest = hashlib.sha1()
        for array in (*enc.folded.weights, *enc.folded.biases, enc.lo, enc.hi, enc.sigmoid.tangents, enc.sigmoid.chords):
            digest.update(np.ascontiguousarray(array, float).tobytes())
        digest.update(repr((enc.sigmoid.lower, enc.sigmoid.upper)).encode())
        fingerprint = enc.__dict__["_dp_fingerprint"] = digest.hexdigest()
    key = (fingerprint, cells)
    if key not in _CELLS:
        if len(_CELLS) >= MAX_CACHED_CELLS:
            _CELLS.pop(next(iter(_CELLS)))
        _CELLS[key] = CellValues(Arrangement.of(enc), cells)
    return _CELLS[key]
