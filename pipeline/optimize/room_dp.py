"""A room of different presses over one day: a bound that keeps the room's climate shared, and
a schedule with one climate for all its presses (decompose.py uses both for rooms of several
press groups).

The decomposition's first bound gives every press its own copy of the room's climate. Here the
humidity path is the room's (a DP over humidity cells, as in day_dp.py, paying the room's whole
humidity energy); each press keeps a copy of the temperature, tied to the room's by Lagrange
prices price_T[k, t] (the press earns price_T T_k, the room -sum_k price_T T), and each press's
maintenance count is priced by mu_k (so the DP's state is the humidity cell alone):
    B(N, mu, price_T) = max over humidity paths of sum_t sum_k n_k max_a [gain_k,a,t(cell; price_T)
                        - mu_k b_a] + sum_k n_k mu_k M_k + sum_t max_T -(sum_k price_T[k, t]) T
bounds the room's day at the maintenance counts N for every choice of prices (n_k: presses of
group k, M_k: maintenances to place). The prices are improved by subgradient steps (mu first,
then Polyak steps towards a known schedule's value). The room's bound is the largest B over the
count vectors N that their presses' own bounds do not already rule out, best first, each
starting from the prices the first one found (often enough to rule it out at once); at most the
separate presses' bound. Where the presses want different temperatures, this is what closes
most of the decomposition's gap (measured: a room of three presses of our network with their
own inputs, 9.5e-3 -> 8.4e-4).
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

MU_STEPS = 30          # subgradient steps on the maintenance prices per count vector
TEMPERATURE_STEPS = 80  # then Polyak steps on the temperature (and maintenance) prices
MAX_VECTORS = 64       # count vectors whose room DP is run, best first (the rest: their separate bound)


@dataclass
class PressDay:
    """One press group of the room at a fixed count N over one day: what its hour values need."""

    values: CellValues
    count: int
    X: int
    Xm: int
    maintenance_cost: float
    maintenances: int          # M: maintenances to place today
    margin: np.ndarray         # [hours] R - c_t per unit (no bonus)
    fail: float
    energy_T: np.ndarray       # [hours] USD per C of |T_out - T| this press pays (its share)
    tau: np.ndarray            # [hours] outside temperature


def press_day(values: CellValues, count: int, X: int, Xm: int, maintenance_cost: float, maintenances: int,
              margin: np.ndarray, fail: float, energy_T: np.ndarray, tau: np.ndarray) -> PressDay:
    return PressDay(values, count, X, Xm, maintenance_cost, maintenances, margin, fail, energy_T, tau)


@dataclass
class _Gains:
    """A press's gains per hour and cell at given temperature prices, and the T of each maximum."""

    idle: np.ndarray           # [hours]
    idle_T: np.ndarray
    full: np.ndarray           # [hours, cells] cell maxima (no bonus)
    mfull: np.ndarray
    full_at: np.ndarray        # ... at each cell's lower border (exact)
    mfull_at: np.ndarray
    full_T: np.ndarray         # [hours, cells] T of the cell maxima
    mfull_T: np.ndarray


def _gains(p: PressDay, price_T: np.ndarray) -> _Gains:
    hours = range(len(p.tau))
    lo, hi = p.values.arrangement.lo[0], p.values.arrangement.hi[0]
    options = np.stack([np.full(len(p.tau), lo), np.full(len(p.tau), hi), np.clip(p.tau, lo, hi)])
    idle_values = -p.energy_T * np.abs(p.tau - options) + price_T * options
    pick = np.argmax(idle_values, axis=0)
    idle, idle_T = idle_values[pick, np.arange(len(p.tau))], options[pick, np.arange(len(p.tau))]
    out = {}
    for name, x in (("full", p.X), ("mfull", p.Xm)):
        if not price_T.any():
            rows = [p.values.best(x, p.margin[t], p.fail, p.energy_T[t], p.tau[t]) for t in hours]
            rows = [(a, b, np.zeros_like(a)) for a, b in rows]
        else:
            rows = [p.values.priced(x, p.fail, p.energy_T[t], p.tau[t], price_T[t]) for t in hours]
            rows = [(a + x * p.margin[t], b + x * p.margin[t], c) for t, (a, b, c) in enumerate(rows)]
        out[name] = np.array([r[0] for r in rows])
        out[name + "_at"] = np.array([r[1] for r in rows])
        out[name + "_T"] = np.array([r[2] for r in rows])
    return _Gains(idle, idle_T, **out)


def _hour_values(presses: list[PressDay], gains: list[_Gains], t: int, lam: float, mu: np.ndarray, exact: bool):
    """The room's hour value per cell and each press's best action there (0 idle, 1 full,
    2 maintenance idle, 3 maintenance full)."""
    total, actions = 0.0, []
    for k, (p, g) in enumerate(zip(presses, gains)):
        full, mfull = (g.full_at[t], g.mfull_at[t]) if exact else (g.full[t], g.mfull[t])
        options = np.stack([np.full_like(full, g.idle[t]), full + lam * p.X,
                            np.full_like(full, g.idle[t] - p.maintenance_cost - mu[k]),
                            mfull + lam * p.Xm - p.maintenance_cost - mu[k]])
        best = np.argmax(options, axis=0)
        total = total + p.count * options[best, np.arange(options.shape[1])]
        actions.append(best)
    return total, np.array(actions)


def start_values(energy_H0: float, lo: float, width: float, cells: int, start: float | None,
                 exact: bool) -> np.ndarray:
    """Each humidity cell's value at hour 0: the cost of moving there from `start` (none without a
    start); exact=True from the cell's border, else the least cost of reaching the cell."""
    edges = lo + width * np.arange(cells)
    if start is None:
        return np.zeros(cells)
    if exact:
        return -energy_H0 * np.abs(edges - start)
    return -energy_H0 * np.maximum(0.0, np.maximum(edges - start, start - (edges + width)))


def room_dp(presses: list[PressDay], energy_H: np.ndarray, start: float | None, lo: float, width: float,
            lam: float, mu: np.ndarray, exact: bool = False, gains: list[_Gains] | None = None,
            price_T: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """(B, path of cells, actions [presses, hours]) for prices lam (units), mu (maintenances) and
    price_T [presses, hours] (each press's copy of the room's temperature; the room itself then
    earns max over T of -(sum_k price_T) T). exact=False: the bound (cell maxima, moves at least
    cost); True: a path of cell borders with the moves' exact cost (for a schedule)."""
    hours, C = len(energy_H), presses[0].values.cells
    price_T = np.zeros((len(presses), hours)) if price_T is None else price_T
    gains = gains or [_gains(p, price_T[k]) for k, p in enumerate(presses)]
    value = start_values(energy_H[0], lo, width, C, start, exact)
    back = np.zeros((hours, C), dtype=np.int64)
    acts = []
    for t in range(hours):
        if t == 0:
            moved, src = value, np.arange(C)
        else:
            moved, src = _cone(value, energy_H[t] * width, not exact)
        gain, best = _hour_values(presses, gains, t, lam, mu, exact)
        value = moved + gain
        back[t] = src
        acts.append(best)
    j = int(np.argmax(value))
    t_lo, t_hi = presses[0].values.arrangement.lo[0], presses[0].values.arrangement.hi[0]
    room = -price_T.sum(axis=0)
    total = (float(value[j]) + sum(p.count * mu[k] * p.maintenances for k, p in enumerate(presses))
             + float(np.maximum(room * t_lo, room * t_hi).sum()))
    path = np.zeros(hours, dtype=int)
    actions = np.zeros((len(presses), hours), dtype=int)
    for t in range(hours - 1, -1, -1):
        path[t] = j
        actions[:, t] = acts[t][:, j]
        j = int(back[t, j])
    return total, path, actions


def tightened(presses: list[PressDay], energy_H: np.ndarray, start: float | None, lo: float, width: float,
              lam: float, target: float | None = None, steps: int = MU_STEPS,
              prices: tuple | None = None, enough: float = -math.inf) -> tuple[float, tuple]:
    """The smallest B over subgradient steps: first on the maintenance prices mu, then (given
    `target`, a schedule's value: Polyak steps) on the prices of each press's copy of the room's
    temperature as well; and the prices that gave it. `prices` (another count vector's) are
    tried first: often they already bring B below the target. The steps stop once B is at most
    `enough` (a bound already proven for the room: a lower B changes nothing)."""
    hours = len(energy_H)
    mu, price_T = np.zeros(len(presses)), np.zeros((len(presses), hours))
    best, best_prices = math.inf, (mu.copy(), price_T.copy())
    if prices is not None:
        value, _, _ = room_dp(presses, energy_H, start, lo, width, lam, prices[0], price_T=prices[1])
        best, best_prices = value, (prices[0].copy(), prices[1].copy())
        if value <= max(enough, target if target is not None else -math.inf):
            return best, best_prices
        mu, price_T = best_prices[0].copy(), best_prices[1].copy()
        steps = 0  # straight to the Polyak steps from there
    scale = max(max(p.maintenance_cost for p in presses), 1.0)
    t_lo, t_hi = presses[0].values.arrangement.lo[0], presses[0].values.arrangement.hi[0]
    temperature = target is not None and len(presses) > 1
    for step in range(steps + TEMPERATURE_STEPS if temperature else steps):
        priced = temperature and step >= steps
        if priced and step == steps and steps > 0:
            mu, price_T = best_prices[0].copy(), best_prices[1].copy()
        gains = [_gains(p, price_T[k]) for k, p in enumerate(presses)]
        value, path, actions = room_dp(presses, energy_H, start, lo, width, lam, mu, gains=gains, price_T=price_T)
        if value < best:
            best, best_prices = value, (mu.copy(), price_T.copy())
        if best <= enough:
            break
        g_mu = np.array([p.maintenances for p in presses]) - (actions >= 2).sum(axis=1)
        if not priced:
            if not g_mu.any():
                if not temperature:
                    break
                continue
            mu = mu - scale / (step + 1) * g_mu / max(np.linalg.norm(g_mu), 1.0)
            continue
        T_k = np.zeros_like(price_T)
        for k, g in enumerate(gains):
            for t in range(hours):
                a = actions[k, t]
                T_k[k, t] = g.idle_T[t] if a in (0, 2) else (g.full_T if a == 1 else g.mfull_T)[t, path[t]]
        room_sum = price_T.sum(axis=0)
        T_room = np.where(room_sum > 1e-12, t_lo, np.where(room_sum < -1e-12, t_hi, T_k.mean(axis=0)))
        g_T = T_k - T_room[None, :]
        norm = float((g_T ** 2).sum() + (g_mu ** 2).sum())
        if norm < 1e-12 or value - target <= 0:
            break  # the prices' plans agree (or the bound met the schedule): nothing left to gain
        alpha = (value - target) / norm  # Polyak's step towards a known schedule's value
        price_T = price_T - alpha * g_T
        mu = mu - alpha * g_mu
    return best, best_prices


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
