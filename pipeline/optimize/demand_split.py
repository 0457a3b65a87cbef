"""A binding demand bounded by its exact split over production levels, not by a Lagrange price.

The decomposition prices a block's demand by lambda: UB(lambda) - lambda D bounds the plant for
every lambda >= 0, but where the demand binds its least value is the concave envelope of the
plant's value as a function of the units made, and the plans it interpolates make whole hours
(full or idle, each hour's gain being convex in x): three identical presses make units in steps
of 108 an hour, while the schedule must stop inside a step and still pay that hour's room energy.
That duality gap (3.7e-4 on 3 presses x the CAISO week) is what this module removes.

Why production levels of g units (and one remainder) are enough (g: the greatest common divisor
of every press's capacity in a full and in a maintenance hour). Fix everything discrete
(maintenance hours and counts, the humidity path); the objective is then convex in the vector of
outputs x (each hour's temperature is chosen for the best value: a maximum of functions affine in
x). A convex function over {0 <= x <= capacity, sum x >= D} is largest at a vertex: every
press-hour at 0 or its capacity (multiples of g) except at most one, x* = g q + e (0 <= e < g).
Let K = ceil(D / g) and r = D mod g. If the others and g q make K levels (units / g) or more, x*
rounded to the better of g q and g (q + 1) keeps the value (convexity) and at least K levels. If
they make K - 1 (then e >= r > 0), x* lies in [g q + r, g (q + 1)] and the better end is either
g q + r (K - 1 levels and r units: exactly the demand) or g (q + 1) (K levels). So the optimum is
at most max(A0[K], A1[K - 1], A1[K]), A0[j] the best value of a schedule whose press-hours make
whole levels, j of them (at K: at least K), A1[j] the same with one press-hour r units above a
whole level. Both come from each press unit's (the presses of one kind in one room, `count` of
them) and day's level bounds W0(j), W1(j) by their best split: a max-plus convolution capped at
K, one unit-day taking W1 (the knapsack of the issue's note), exact. With Lagrange level bounds
alone it is the Lagrange bound again (W1(K - 1) = UB - lambda D); the DP below is what is tighter.

Each unit-day's level values, per maintenance-count vector (one count per press, a multiset):
- the Lagrange bound restricted to the vector, for every price lambda the relaxation tried:
  L(j) = min_lambda sum_k UB_k(N_k, lambda) - lambda g j (each press's day bound at its count);
- for a vector whose presses all take the same count (identical presses: one p for all at the
  room's setpoints, so an hour's value depends on the unit's total output only), a DP over
  (humidity cell, maintenances placed, level) that is exact but for each press taking its own
  humidity inside a cell: an hour at level c earns the best over the cell of
  g c (margin - fail p) - a_t |T_out - T| (day_dp.CellValues, the T for that output), the
  maintenances are any number of presses per hour (c's cap drops with them), all of them being
  the presses' counts together (any such placement splits into one per press: deal the
  maintenance slots in turn), and a move between cells pays at least their distance; W1's partial
  hour makes g c + r units, valued the same way.
A vector with mixed counts keeps its Lagrange bound; the DP is run lazily, only for the vectors
that the current best split uses, so the bound is valid whenever it stops.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from functools import reduce

import numpy as np

from pipeline.optimize.day_dp import CellValues
from pipeline.optimize.room_dp import start_values

MAX_STATES = 1 << 23     # cells x maintenance states x levels of one DP (about 64 MB of floats); above: its Lagrange bound
MAX_LEVELS = 1000       # K above this (a small g, a large demand): the block keeps its Lagrange bound
MAX_VECTORS = 5000       # count vectors of one unit looked at one by one; more: each press's best count, separately


@dataclass
class UnitDay:
    """One unit (count identical presses sharing a copy of the room's climate, paying its share of
    the room's energy) over one day at one count N: what its level DP needs, in plain numbers."""

    values: CellValues
    count: int
    X: int                  # units in a full hour, per press
    Xm: int                 # in a maintenance hour
    maintenance_cost: float
    maintenances: int       # per press, to place today
    margin: np.ndarray      # [hours] R - c_t per unit (USD, no Lagrange bonus)
    fail: float             # R + C_pen
    energy_T: np.ndarray    # [hours] USD per C of |T_out - T| the unit pays
    energy_H: np.ndarray    # [hours] USD per %RH of humidity change the unit pays
    tau: np.ndarray         # [hours] outside temperature
    start: float | None     # humidity before the first hour (None: free)


def level_size(capacities: list[int]) -> int:
    """g: the greatest common divisor of the capacities (full and maintenance hours)."""
    return max(reduce(math.gcd, [int(c) for c in capacities], 0), 1)


def levels_needed(demand: int, g: int) -> tuple[int, int]:
    """(K, r): K = ceil(D / g) levels; r = D mod g, the units above K - 1 whole levels that a
    schedule with one partial press-hour needs (0: g divides D)."""
    demand = max(int(demand), 0)
    return -(-demand // g), demand % g


def _cone_rows(F: np.ndarray, slope: float) -> np.ndarray:
    """Per row, G(j) = max_j' F(j') - slope max(0, |j - j'| - 1): a move between humidity cells
    at its least cost (a neighbouring cell free)."""
    pad = np.full((F.shape[0], 1), -np.inf)
    H = np.maximum(F, np.maximum(np.hstack([F[:, 1:], pad]), np.hstack([pad, F[:, :-1]])))
    idx = slope * np.arange(F.shape[1])
    fwd = np.maximum.accumulate(H + idx, axis=1) - idx
    bwd = (np.maximum.accumulate((H - idx)[:, ::-1], axis=1))[:, ::-1] + idx
    return np.maximum(fwd, bwd)


def _shift_into(into: np.ndarray, src: np.ndarray, c: int, gain: np.ndarray, K: int) -> None:
    """into[..., min(j + c, K), :] = max(itself, src[..., j, :] + gain): c levels more, capped at K."""
    if c == 0:
        np.maximum(into, src + gain, out=into)
        return
    if c < K:
        into[:, c:K] = np.maximum(into[:, c:K], src[:, : K - c] + gain)
    into[:, K] = np.maximum(into[:, K], src[:, max(K - c, 0):].max(axis=1) + gain)


def level_values(day: UnitDay, g: int, K: int, r: int = 0) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(W0, W1), j = 0..K: bounds on the unit-day's value with exactly j whole levels made (at K:
    at least K), W0 with every press-hour at a multiple of g, W1 with one press-hour r units above
    one (its hour making g c + r; None where r = 0); -inf where none. None: more states than MAX_STATES."""
    cv, n = day.values, day.count
    C, M, flags = cv.cells, n * day.maintenances, 2 if r else 1
    if flags * C * (M + 1) * (K + 1) > MAX_STATES:
        return None
    top, top_m = day.X // g, day.Xm // g          # levels of one press in a full / maintenance hour
    lo_T, hi_T = cv.arrangement.lo[0], cv.arrangement.hi[0]
    value = np.full((flags, M + 1, K + 1, C), -np.inf)
    value[0, 0, 0] = start_values(day.energy_H[0], cv.lo, cv.width, C, day.start, exact=False)
    for t in range(len(day.tau)):
        if t > 0:
            value = _cone_rows(value.reshape(-1, C), day.energy_H[t] * cv.width).reshape(value.shape)
        best = lambda units: cv.best(units, day.margin[t], day.fail, day.energy_T[t], day.tau[t])[0]  # noqa: E731
        idle = -day.energy_T[t] * max(0.0, lo_T - day.tau[t], day.tau[t] - hi_T)
        most = n * max(top, top_m)
        gain = [np.full(C, idle)] + [best(g * c) for c in range(1, most + 1)]
        partial = [best(g * c + r) for c in range(most + 1)] if r else []
        new = np.full_like(value, -np.inf)
        for m in range(min(n, M) + 1):             # presses in maintenance this hour
            cap = (n - m) * day.X + m * day.Xm     # the hour's units
            src = value[:, : M + 1 - m] - m * day.maintenance_cost
            for c in range(cap // g + 1):
                for flag in range(flags):
                    _shift_into(new[flag, m:], src[flag], c, gain[c], K)
                if r and g * c + r <= cap:
                    _shift_into(new[1, m:], src[0], c, partial[c], K)
        value = new
    W = value[:, M].max(axis=2)
    return W[0], (W[1] if r else None)


def lagrange_levels(bounds: list[tuple[float, float]], g: int, K: int, r: int = 0) -> np.ndarray:
    """L(j) = min over (lambda, UB(lambda)) of UB - lambda (g j + r), j = 0..K (lambda >= 0: at K
    it bounds every level >= K too)."""
    units = g * np.arange(K + 1) + r
    return np.min([ub - lam * units for lam, ub in bounds], axis=0)


def _conv(A: np.ndarray, W: np.ndarray, into: np.ndarray) -> np.ndarray:
    out = np.full(len(A), -np.inf)
    np.maximum.at(out, into.ravel(), (A[:, None] + W[None, :]).ravel())
    return out


def split(values: list[tuple[np.ndarray, np.ndarray | None]], K: int) -> list[tuple]:
    """The best sums over the unit-days, stage by stage: (A0, A1) after unit-day i, A0[j] the best
    of sum W0 over splits of exactly j levels (at K: >= K), A1[j] the same with one unit-day's
    W1 (the partial press-hour) in it (None where no W1)."""
    j = np.arange(K + 1)
    into = np.minimum(j[:, None] + j[None, :], K)          # [so far, this one] -> capped level
    partial = values[0][1] is not None
    stages = [(np.r_[0.0, np.full(K, -np.inf)], np.full(K + 1, -np.inf) if partial else None)]
    for W0, W1 in values:
        A0, A1 = stages[-1]
        stages.append((_conv(A0, W0, into),
                       np.maximum(_conv(A1, W0, into), _conv(A0, W1, into)) if partial else None))
    return stages


def final(stages: list[tuple], K: int) -> tuple[float, list[tuple[int, int]]]:
    """The bound max(A0[K], A1[K - 1], A1[K]) (see the module) and the (level, flag) ends attaining it."""
    A0, A1 = stages[-1]
    ends = [(float(A0[K]), K, 0)] + ([(float(A1[K - 1]), K - 1, 1), (float(A1[K]), K, 1)] if A1 is not None and K else [])
    best = max(v for v, _, _ in ends)
    return best, [(level, flag) for v, level, flag in ends if v == best]


def choice(stages: list[tuple], values: list[tuple], level: int, flag: int) -> list[tuple[int, int]]:
    """Each unit-day's (levels, 1 if it holds the partial press-hour) in a split attaining
    stages[-1][flag][level]."""
    K = len(stages[0][0]) - 1
    j = np.arange(K + 1)
    into = np.minimum(j[:, None] + j[None, :], K)
    out, at = [], level
    for (W0, W1), (A0, A1) in zip(reversed(values), reversed(stages[:-1])):
        options = [(A0 if flag == 0 else A1, W0, flag, 0)] + ([(A0, W1, 0, 1)] if flag == 1 else [])
        best = None
        for before, W, prev_flag, mine_flag in options:
            cand = np.where(into == at, before[:, None] + W[None, :], -np.inf)
            k = int(np.argmax(cand))
            if best is None or cand.ravel()[k] > best[0]:
                best = (cand.ravel()[k], *np.unravel_index(k, cand.shape), prev_flag, mine_flag)
        _, prev, mine, flag, mine_flag = best
        out.append((int(mine), mine_flag))
        at = int(prev)
    return out[::-1]


@dataclass
class Piece:
    """One unit-day's count vectors: each one's level bounds W0 and W1 (Lagrange, lowered by the DP
    when run)."""

    vectors: list[tuple[int, ...]]
    bounds: list[list[np.ndarray]]   # [flag][vector]; flag 1 absent where r = 0
    exact: list[bool]                # the DP has been run (or cannot be: mixed counts)

    def values(self) -> tuple[np.ndarray, np.ndarray | None]:
        return (np.max(self.bounds[0], axis=0), np.max(self.bounds[1], axis=0) if len(self.bounds) > 1 else None)

    def top(self, flag: int, j: int) -> int:
        return int(np.argmax([b[j] for b in self.bounds[flag]]))


def piece(n_bounds: list[tuple[float, dict[int, float]]], count: int, g: int, K: int, r: int) -> Piece | None:
    """A unit-day's Lagrange level bounds per count vector from its presses' day bounds per count
    at each price tried ((lambda, {N: UB_N(lambda)})); None where a count is missing (N not
    enumerated)."""
    counts = sorted(set.intersection(*[set(b) for _, b in n_bounds]))
    if not counts or min(counts) < 0:
        return None
    flags = (0, r) if r else (0,)
    vectors = list(itertools.combinations_with_replacement(counts, count))
    if len(vectors) > MAX_VECTORS:  # too many to look at: the presses' best counts, separately
        pairs = [(lam, count * max(b[n] for n in counts)) for lam, b in n_bounds]
        return Piece([()], [[lagrange_levels(pairs, g, K, e)] for e in flags], [True])
    bounds = [[lagrange_levels([(lam, sum(b[n] for n in v)) for lam, b in n_bounds], g, K, e) for v in vectors]
              for e in flags]
    return Piece(vectors, bounds, [len(set(v)) > 1 for v in vectors])


def split_bound(pieces: list[Piece], g: int, K: int, r: int, day_of, deadline: float) -> tuple[float, int]:
    """The block's bound (the best split, see the module), each unit-day's count vector that the
    best splits use given its DP (day_of(i, vector) -> UnitDay, None: none) until they use only
    vectors already exact or time runs out. Returns (bound, DPs run)."""
    runs = 0
    while True:
        values = [p.values() for p in pieces]
        stages = split(values, K)
        bound, ends = final(stages, K)
        todo = set()
        for level, flag in ends:
            for i, (j, own) in enumerate(choice(stages, values, level, flag)):
                v = pieces[i].top(own, j)
                if not pieces[i].exact[v]:
                    todo.add((i, v))
        if not todo or time.perf_counter() > deadline or not math.isfinite(bound):
            return bound, runs
        for i, v in sorted(todo):
            p = pieces[i]
            p.exact[v] = True
            day = day_of(i, p.vectors[v])
            W = None if day is None else level_values(day, g, K, r)
            runs += 1
            if W is not None:
                for flag in range(len(p.bounds)):
                    p.bounds[flag][v] = np.minimum(p.bounds[flag][v], W[flag])
