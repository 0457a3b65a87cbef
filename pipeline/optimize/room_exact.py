"""A room's hour values with its temperature shared exactly (no per-press copies to price).

room_dp.py gives each press of a room its own copy of the room's temperature and ties the copies
by Lagrange prices: a bound that stays a few percent loose where the presses want different
temperatures (the prices' duality gap). Here the temperature is the room's: within a humidity
cell [h0, h1] each press may take its own humidity (the only relaxation left, shrinking with the
cell), so press k's hour value at temperature T is a function of its least failure probability
    pmin_k(T) = min over h in [h0, h1] of p_k(T, h),
and the room's hour value is
    V_t(cell) = max over T of -a_t |T_out,t - T| + sum_k n_k max_a value_k,a(T),
the actions a being idle, full, maintenance idle and maintenance at its reduced capacity.

Why a finite set of T gives the exact maximum. p_k is affine on each cell of its arrangement
(day_dp.Arrangement), so along the line T = const it is piecewise linear in h, its breakpoints
where the line crosses an edge: pmin_k(T) is the least of p at the two borders and at those
crossings. Between two consecutive structural temperatures of the cell (the T of every edge
end inside it, every crossing of an edge with its borders, the box's ends) the same edges cross
the line, each with p linear in T, so pmin_k is a minimum of linear functions there: concave.
A press's value is then max(constant, -w pmin_k + c): convex; the sum over presses is convex
and -a_t |T_out - T| is linear on each side of T_out. So on every interval between consecutive
points of U = (all presses' structural temperatures) + box ends + every hour's T_out the room's
hour value is convex, and its maximum over T lies in U: evaluating at U is exact.

The hours are coupled only by the humidity moves (the DP over cells of room_dp.py, a move
between cells paying at least their distance) and by each press's maintenance count, priced by
mu_k: B(N, mu) bounds the room's day at the count vector N for every mu; mu comes from a
cutting-plane model of B (exact_tightened). Where the room-day makes its block's whole demand
(one room, one day), each vector N may also take its own demand price l (B(N, mu, l) - l D for
every l >= 0): the block's bound is then max over N of min over (mu, l), never looser than one l
for all N. Measured on the 5 different presses of benchmarks/optimizer.py: the vector of the best
schedule wanted l = 12.2 where the block's price is 11.2; its bound fell 12.6 USD, the gap
2.9e-4 -> 6.6e-5. Measured on 3 presses of one network with their own
inputs (benchmarks/optimizer.py, scaling 3): the priced copies' bound left 7.4e-4, this one 3.2e-5.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from pipeline.optimize.day_dp import CellValues, _cone
from pipeline.optimize.room_dp import PressDay, start_values

MU_STEPS = 40   # maintenance prices tried per count vector (exact_tightened)
TOL = 1e-9


@dataclass
class _Edges:
    """One press network's arrangement edges, for p at a vertical line inside a humidity strip."""

    A: np.ndarray   # [edges, 2] (T, H), the lower-H end first
    B: np.ndarray
    pA: np.ndarray
    pB: np.ndarray


def _edges(values: CellValues) -> _Edges:
    arr = values.arrangement
    up = arr.Q[:, 1] >= arr.P[:, 1]
    A, B = np.where(up[:, None], arr.P, arr.Q), np.where(up[:, None], arr.Q, arr.P)
    return _Edges(A, B, np.where(up, arr.pP, arr.pQ), np.where(up, arr.pQ, arr.pP))


@dataclass
class _Strip:
    """One press's edges clipped to one humidity strip [h0, h1]: T and p at their two ends (both
    linear along an edge), and p along the strip's borders (at the crossings, sorted by T)."""

    T0: np.ndarray
    T1: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    borders: tuple            # ((T, p) sorted by T) at h0 and at h1
    structural: np.ndarray    # the T of every clipped end


def _strip(e: _Edges, h0: float, h1: float) -> _Strip:
    inside = (e.B[:, 1] >= h0 - TOL) & (e.A[:, 1] <= h1 + TOL)
    A, B, pA, pB = e.A[inside], e.B[inside], e.pA[inside], e.pB[inside]
    dh = B[:, 1] - A[:, 1]
    slanted = dh > 1e-12
    safe = np.where(slanted, dh, 1.0)
    fa = np.where(slanted, np.clip((h0 - A[:, 1]) / safe, 0, 1), 0.0)
    fb = np.where(slanted, np.clip((h1 - A[:, 1]) / safe, 0, 1), 1.0)
    T0, T1 = A[:, 0] + fa * (B[:, 0] - A[:, 0]), A[:, 0] + fb * (B[:, 0] - A[:, 0])
    p0, p1 = pA + fa * (pB - pA), pA + fb * (pB - pA)
    borders = []
    for h, T_h, p_h in ((h0, T0, p0), (h1, T1, p1)):  # p is linear between a border's crossings
        on = slanted & (A[:, 1] <= h + TOL) & (B[:, 1] >= h - TOL)
        order = np.argsort(T_h[on], kind="stable")
        borders.append((T_h[on][order], p_h[on][order]))
    return _Strip(T0, T1, p0, p1, tuple(borders), np.r_[T0, T1])


def _strips(values: CellValues, borders: bool) -> list[_Strip]:
    """The press's strips (its humidity cells, or borders=True their lower borders), kept on it."""
    key = "_strips_borders" if borders else "_strips"
    if key not in values.__dict__:
        e = _edges(values)
        values.__dict__[key] = [_strip(e, values.lo + c * values.width,
                                       values.lo + (c if borders else c + 1) * values.width)
                                for c in range(values.cells)]
    return values.__dict__[key]


def _least_p(s: _Strip, T: np.ndarray) -> np.ndarray:
    """min over h in the strip of p(T, h) at each T: p at the strip's borders and where the line
    T = const crosses an edge inside the strip (p is affine between crossings)."""
    lo, hi = np.minimum(s.T0, s.T1), np.maximum(s.T0, s.T1)
    span = s.T1 - s.T0
    moving = np.abs(span) > 1e-12
    f = (T[None, :] - s.T0[:, None]) / np.where(moving, span, 1.0)[:, None]
    p_at = np.where(moving[:, None], s.p0[:, None] + f * (s.p1 - s.p0)[:, None], np.minimum(s.p0, s.p1)[:, None])
    hit = (T[None, :] >= lo[:, None] - 1e-9) & (T[None, :] <= hi[:, None] + 1e-9)
    least = np.where(hit, p_at, np.inf).min(axis=0, initial=np.inf)
    for T_h, p_h in s.borders:
        least = np.minimum(least, np.interp(T, T_h, p_h))
    return least


@dataclass
class SharedHours:
    """Per humidity cell: the candidate temperatures U [cells, m] (padded with NaN) and each
    press's least p there [presses][cells, m]."""

    T: np.ndarray
    pmin: list[np.ndarray]


def shared_hours(cells: list[list[CellValues]], tau: np.ndarray, borders: bool = False) -> SharedHours:
    """The candidate temperatures of every cell for the presses (per press the CellValues of each
    count N it may take: its p is the least of theirs; all of the same humidity cells and
    temperature box) and their least p there. borders=True: at each cell's lower border only
    (p exact there: a schedule's hour values)."""
    ref = cells[0][0]
    t_lo, t_hi = ref.arrangement.lo[0], ref.arrangement.hi[0]
    strips = [[_strips(v, borders) for v in press] for press in cells]
    extra = np.r_[t_lo, t_hi, np.clip(tau, t_lo, t_hi)]
    Ts, P = [], [[] for _ in cells]
    for c in range(ref.cells):
        U = np.unique(np.clip(np.concatenate([extra] + [s[c].structural for press in strips for s in press]),
                              t_lo, t_hi))
        Ts.append(U)
        for k, press in enumerate(strips):
            least = _least_p(press[0][c], U)
            for s in press[1:]:
                least = np.minimum(least, _least_p(s[c], U))
            P[k].append(least)
    m = max(len(u) for u in Ts)
    T = np.full((ref.cells, m), np.nan)
    pmin = [np.full((ref.cells, m), np.inf) for _ in cells]
    for c, U in enumerate(Ts):
        T[c, : len(U)] = U
        for k in range(len(cells)):
            pmin[k][c, : len(U)] = P[k][c]
    return SharedHours(T, pmin)


def _options(presses: list[PressDay], shared: SharedHours, t: int, lam: float, energy_T: float):
    """Per press, (its best value without maintenance, with one) at every candidate T of every
    cell, and the room's temperature energy there."""
    T = shared.T
    energy = np.where(np.isnan(T), -np.inf, -energy_T * np.abs(presses[0].tau[t] - np.nan_to_num(T)))
    out = []
    for p, pmin in zip(presses, shared.pmin):
        unit = p.margin[t] + lam - p.fail * pmin   # per unit made, at the least p of the cell
        out.append((np.maximum(p.X * unit, 0.0), np.maximum(p.Xm * unit, 0.0) - p.maintenance_cost))
    return energy, out


def exact_room_dp(presses: list[PressDay], shared: SharedHours, energy_H: np.ndarray, start: float | None,
                  lo: float, width: float, lam: float, mu: np.ndarray, need: np.ndarray, options=None,
                  exact: bool = False) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, int]:
    """(B, path of cells, maintenance actions [presses, hours], T of each hour, units made) for
    prices lam (units) and mu (maintenances); need [presses, 2]: the least and most maintenances
    each press may place. B bounds the room's day for every mu. exact=True (shared at the cells'
    borders): a path of borders with the moves' exact cost, B then a schedule's value."""
    hours, C = len(energy_H), shared.T.shape[0]
    options = options or [_options(presses, shared, t, lam, _room_energy_T(presses, t)) for t in range(hours)]
    value = start_values(energy_H[0], lo, width, C, start, exact)
    back = np.zeros((hours, C), dtype=np.int64)
    picks = []
    for t in range(hours):
        moved, src = (value, np.arange(C)) if t == 0 else _cone(value, energy_H[t] * width, not exact)
        energy, per_press = options[t]
        total = energy.copy()
        for k, (p, (plain, maint)) in enumerate(zip(presses, per_press)):
            total = total + p.count * np.maximum(plain, maint - mu[k])
        j = np.argmax(total, axis=1)
        value = moved + total[np.arange(C), j]
        back[t] = src
        picks.append(j)
    c = int(np.argmax(value))
    B = float(value[c]) + sum(p.count * max(mu[k] * need[k, 0], mu[k] * need[k, 1]) for k, p in enumerate(presses))
    path, T_at = np.zeros(hours, dtype=int), np.zeros(hours)
    maint = np.zeros((len(presses), hours), dtype=int)
    made = 0
    for t in range(hours - 1, -1, -1):
        path[t] = c
        j = picks[t][c]
        T_at[t] = shared.T[c, j]
        for k, (plain, m) in enumerate(options[t][1]):
            maint[k, t] = int(m[c, j] - mu[k] > plain[c, j])
            p = presses[k]  # a press makes units where its hour's value is above idle's
            full = m[c, j] + p.maintenance_cost > 0 if maint[k, t] else plain[c, j] > 0
            made += p.count * int(full) * (p.Xm if maint[k, t] else p.X)
        c = int(back[t, c])
    return B, path, maint, T_at, made


def _room_energy_T(presses: list[PressDay], t: int) -> float:
    """USD per degree of |T_out - T| the room pays in hour t (the presses' shares together)."""
    return float(sum(p.count * p.energy_T[t] for p in presses))


def exact_tightened(presses: list[PressDay], shared: SharedHours, energy_H: np.ndarray, start: float | None,
                    lo: float, width: float, lam: float, need: np.ndarray, target: float | None = None,
                    mu: np.ndarray | None = None, enough: float = -math.inf,
                    steps: int = MU_STEPS, demand: int | None = None) -> tuple[float, np.ndarray, tuple | None]:
    """The least B over up to `steps` maintenance prices mu, from `mu` (another vector's) when
    given; the mu and the DP's (path, maintenance, T) that gave it. B is convex in mu and each DP
    gives a subgradient (the maintenances it places less those it makes), so the prices come from
    a cutting-plane model of B in a box around the best mu so far (an LP; the box doubles after a
    step that lowers B, halves after one that does not): subgradient steps stall where a press's
    maintenances jump (an idle press takes all its hours or none). Stops once B is at most
    `enough` or `target` (nothing lower matters) or the model proves no lower B inside the box.

    demand (only where this room-day makes its block's whole demand, none made elsewhere): the
    demand price is this count vector's own as well, l >= 0 with B(mu, l) - l demand bounding the
    room's day at the vector for every (mu, l) (jointly convex; subgradient: units made - demand);
    reported as B(mu, l) - (l - lam) demand, a bound on the same footing as B at lam (the caller
    subtracts lam demand); the prices returned are then (mu, l), and `mu` may hold an l to start
    from as its last entry. The plant's bound is then the largest over vectors of each one's least
    value instead of the least over one price of the largest: never looser, often tighter where the
    vectors want different prices."""
    hours = len(energy_H)
    priced = demand is not None
    opts_at = lambda price: [_options(presses, shared, t, price, _room_energy_T(presses, t))  # noqa: E731
                             for t in range(hours)]
    options = opts_at(lam)
    K = len(presses)
    x = np.r_[np.zeros(K) if mu is None else np.asarray(mu, float)[:K], lam]   # (mu, l)
    if priced and mu is not None and len(mu) > K:
        x[K] = float(mu[K])  # a price this vector found before
    best, best_x, best_plan = math.inf, x.copy(), None
    box = max(max(p.maintenance_cost for p in presses), 1.0)
    scale = np.r_[np.ones(K), max(lam, 1.0) / box]   # l's box starts at about the price itself
    counts = np.array([p.count for p in presses], float)
    stop = max(enough, target if target is not None else -math.inf)
    cuts_g, cuts_b = [], []
    for _ in range(steps):
        if priced and x[K] != lam:
            options = opts_at(x[K])
        B, path, maint, T_at, made = exact_room_dp(presses, shared, energy_H, start, lo, width, x[K], x[:K], need,
                                                   options)
        B = B - (x[K] - lam) * demand if priced else B
        made_m = maint.sum(axis=1)
        mu_now = x[:K]
        placed = np.where(mu_now > 0, need[:, 1],
                          np.where(mu_now < 0, need[:, 0], np.clip(made_m, need[:, 0], need[:, 1])))
        g = np.r_[(placed - made_m) * counts, (made - demand) if priced else 0.0]
        if priced and x[K] <= 0.0 and g[K] > 0:
            g[K] = 0.0  # l = 0 and more than the demand made: l cannot go lower, B is a bound there as it is
        if B < best:
            box = box * 2 if best < math.inf else box
            best, best_x, best_plan = B, x.copy(), (path, maint, T_at)
        else:
            box /= 2
        if best <= stop or not g.any() or box < 1e-6:
            break  # low enough, or the counts are met at these prices (B is the best there is for them)
        cuts_g.append(g)
        cuts_b.append(float(g @ x) - B)   # B(y) >= B + g (y - x):  g y - t <= g x - B
        model = _cutting_plane(np.array(cuts_g), np.array(cuts_b), best_x, box * scale, priced)
        if model is None:
            break
        x, low = model
        if low >= best - 1e-9 * max(abs(best), 1.0) and box >= 1e6:
            break
    return best, (best_x if priced else best_x[:K]), best_plan


def _cutting_plane(G: np.ndarray, b: np.ndarray, center: np.ndarray, widths: np.ndarray,
                   priced: bool, lower: bool = True) -> tuple[np.ndarray, float] | None:
    """argmin over x in center +- widths of max_i (B_i + g_i (x - x_i)), and that minimum; the
    last coordinate (the demand price) kept at 0 or above, and fixed where not priced."""
    if not priced:  # the mu alone (the price's column dropped, its g part being 0)
        found = _cutting_plane(G[:, :-1], b, center[:-1], widths[:-1], True, lower=False)
        return None if found is None else (np.r_[found[0], center[-1]], found[1])
    n = len(center)
    A = np.hstack([G, -np.ones((len(G), 1))])
    bounds = [(c - w, c + w) for c, w in zip(center, widths)]
    if lower:
        bounds[-1] = (max(bounds[-1][0], 0.0), bounds[-1][1])
    res = linprog(np.r_[np.zeros(n), 1.0], A_ub=A, b_ub=b, bounds=bounds + [(None, None)], method="highs")
    if res.status != 0:
        return None
    return res.x[:n], float(res.x[n])
