"""A room of different presses over one day: a bound that keeps the room's humidity shared, and
a schedule with one climate for all its presses (decompose.py uses both for rooms of several
press groups).

The decomposition's first bound gives every press its own copy of the room's climate. Here the
humidity path is the room's (a DP over humidity cells, as in day_dp.py, paying the room's whole
humidity energy); only the temperature stays per press (each at its share of the room's
temperature energy: a relaxation), and each press's maintenance count is priced by a Lagrange
multiplier mu_k (so the DP's state is the humidity cell alone):
    B(N, mu) = max over humidity paths of sum_t sum_k n_k max_a [gain_k,a,t(cell) - mu_k b_a]
               + sum_k n_k mu_k M_k
bounds the room's day at the maintenance counts N for every mu (n_k: presses of group k, M_k:
maintenances to place, gain at the cell's best point: CellValues). mu is improved by
subgradient steps. The room's bound is the largest B over the count vectors N that their
presses' own bounds do not already rule out (best first), at most the separate presses' bound.
The schedule: the DP's humidity path at the cells' borders (moves at their exact cost), each
hour's temperature the best one for all presses together at that humidity (every press's
breakpoints tried), then each press's best plan for that climate (decompose.best_response).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from pipeline.optimize.day_dp import CellValues, _cone

MU_STEPS = 20          # subgradient steps on the maintenance prices per count vector
MAX_VECTORS = 16       # count vectors whose room DP is run, best first (the rest: their separate bound)


@dataclass
class PressDay:
    """One press group of the room at a fixed count N: its gains per humidity cell and hour."""

    count: int
    X: int
    Xm: int
    maintenance_cost: float
    maintenances: int          # M: maintenances to place today
    idle: np.ndarray           # [hours] an idle hour's best (its share of the temperature energy)
    full: np.ndarray           # [hours, cells] best gain at full output (no bonus), cell maxima
    mfull: np.ndarray          # [hours, cells] ... in a maintenance hour
    full_at: np.ndarray        # [hours, cells] the same at each cell's lower border (exact)
    mfull_at: np.ndarray


def press_day(values: CellValues, count: int, X: int, Xm: int, maintenance_cost: float, maintenances: int,
              margin: np.ndarray, fail: float, energy_T: np.ndarray, tau: np.ndarray) -> PressDay:
    lo, hi = values.arrangement.lo[0], values.arrangement.hi[0]
    idle = -energy_T * np.maximum(0.0, np.maximum(lo - tau, tau - hi))
    full = [values.best(X, margin[t], fail, energy_T[t], tau[t]) for t in range(len(tau))]
    mfull = [values.best(Xm, margin[t], fail, energy_T[t], tau[t]) for t in range(len(tau))]
    return PressDay(count, X, Xm, maintenance_cost, maintenances, idle, np.array([f[0] for f in full]),
                    np.array([f[0] for f in mfull]), np.array([f[1] for f in full]), np.array([f[1] for f in mfull]))


def _hour_values(presses: list[PressDay], t: int, lam: float, mu: np.ndarray, exact: bool):
    """The room's hour value per cell and each press's best action there (0 idle, 1 full,
    2 maintenance idle, 3 maintenance full)."""
    total, actions = 0.0, []
    for k, p in enumerate(presses):
        full, mfull = (p.full_at[t], p.mfull_at[t]) if exact else (p.full[t], p.mfull[t])
        options = np.stack([np.full_like(full, p.idle[t]), full + lam * p.X,
                            np.full_like(full, p.idle[t] - p.maintenance_cost - mu[k]),
                            mfull + lam * p.Xm - p.maintenance_cost - mu[k]])
        best = np.argmax(options, axis=0)
        total = total + p.count * options[best, np.arange(options.shape[1])]
        actions.append(best)
    return total, np.array(actions)


def room_dp(presses: list[PressDay], energy_H: np.ndarray, start: float | None, lo: float, width: float,
            lam: float, mu: np.ndarray, exact: bool = False) -> tuple[float, np.ndarray, np.ndarray]:
    """(B, path of cells, actions [presses, hours]) for prices lam (units) and mu (maintenances).
    exact=False: the bound (cell maxima, moves at least cost); True: a path of cell borders with
    the moves' exact cost (for a schedule)."""
    hours, C = len(energy_H), presses[0].full.shape[1]
    edges = lo + width * np.arange(C)
    if start is None:
        F = np.zeros(C)
    elif exact:
        F = -energy_H[0] * np.abs(edges - start)
    else:
        F = -energy_H[0] * np.maximum(0.0, np.maximum(edges - start, start - (edges + width)))
    back = np.zeros((hours, C), dtype=np.int64)
    acts = []
    value = F
    for t in range(hours):
        if t == 0:
            moved, src = value, np.arange(C)
        else:
            moved, src = _cone(value, energy_H[t] * width, not exact)
        gain, best = _hour_values(presses, t, lam, mu, exact)
        value = moved + gain
        back[t] = src
        acts.append(best)
    j = int(np.argmax(value))
    total = float(value[j]) + sum(p.count * mu[k] * p.maintenances for k, p in enumerate(presses))
    path = np.zeros(hours, dtype=int)
    actions = np.zeros((len(presses), hours), dtype=int)
    for t in range(hours - 1, -1, -1):
        path[t] = j
        actions[:, t] = acts[t][:, j]
        j = int(back[t, j])
    return total, path, actions


def tightened(presses: list[PressDay], energy_H: np.ndarray, start: float | None, lo: float, width: float,
              lam: float) -> tuple[float, np.ndarray]:
    """The smallest B over the subgradient steps on mu, and the mu that gave it."""
    mu = np.zeros(len(presses))
    best, best_mu = math.inf, mu.copy()
    scale = max(max(p.maintenance_cost for p in presses), 1.0)
    for step in range(MU_STEPS):
        value, _, actions = room_dp(presses, energy_H, start, lo, width, lam, mu)
        if value < best:
            best, best_mu = value, mu.copy()
        made = (actions >= 2).sum(axis=1)
        g = np.array([p.maintenances for p in presses]) - made   # d B / d mu_k, up to n_k
        if not g.any():
            break  # every press makes its maintenances: the DP's path is the Lagrangian's optimum
        mu = mu - scale / (step + 1) * g / max(np.linalg.norm(g), 1.0)
    return best, best_mu


def count_vectors(bounds: list[dict[int, float]], counts: list[int]):
    """Count vectors N (one per press group) with their separate bound sum_k n_k bound_k[N_k],
    best first (a generator: the caller stops where the bound no longer matters)."""
    options = [sorted(b.items(), key=lambda kv: -kv[1]) for b in bounds]
    first = tuple(0 for _ in options)
    value = lambda idx: sum(c * options[k][i][1] for k, (c, i) in enumerate(zip(counts, idx)))  # noqa: E731
    heap, seen = [(-value(first), first)], {first}
    while heap:
        neg, idx = heapq.heappop(heap)
        yield -neg, tuple(options[k][i][0] for k, i in enumerate(idx))
        for k in range(len(idx)):
            nxt = tuple(i + (1 if j == k else 0) for j, i in enumerate(idx))
            if nxt[k] < len(options[k]) and nxt not in seen:
                seen.add(nxt)
                heapq.heappush(heap, (-value(nxt), nxt))


def crossings(values: CellValues, h: float) -> np.ndarray:
    """Temperatures where the humidity line H = h crosses an edge of the press's arrangement."""
    return values.arrangement.cross(1, h)[0][:, 0]
