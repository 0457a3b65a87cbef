"""Solving the remaining hours: the optimiser's own build, search and verification, with what does
not change between re-plans kept, and the sub-models that cannot win never built.

What a re-plan calls in pipeline/optimize, unchanged: `encodings.encoding_class` and
`hour_values.HourValues` (per maintenance count), `formulation.build_schedule_model` (with those
parts and a subset of the counts), `solve.ScheduleSolver.solve` (LP bounds, best bound first,
pruning, a start schedule as first incumbent, polish), `costs.objective_parts` and `verify.verify`.

- Cache. A count's network encoding (folded layers, neuron bounds, sigmoid pieces) and hour values
  (each outside temperature's vertices) depend only on the press inputs, the boxes and the day's
  total count N = done + N' (remaining.counted_network folds `done` into the scaling), so they are
  kept under that key: after an hour closes, a stop, a price change or a maintenance done early,
  nothing of the network is recomputed; `warm` prepares them for new inputs ahead of a re-plan.
- Screening. Each hour's exact best gain bounds a sub-model without building it:
  sum_t max(q0_t, max_H Qmax_t(H)) - C_m N' (+ the past hours' term) drops only the demand and the
  humidity-change costs, so it is a valid upper bound while prices are >= 0 (hour_values.py).
- Two phases. The count with the best such bound is built and solved first (with the current plan
  as its start where the counts agree); every other count is built only if its bound beats that
  schedule by more than the gap target, and then solved with it as incumbent and cutoff. The
  proven bound keeps the bounds of the counts never built. Typically one sub-model of six is built.
- The past hours' failure cost (remaining.past_failure_cost) is a constant per sub-model, added to
  its objective as a Param; the verification compares the schedule without it.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig, OmegaConf

from pipeline.optimize.costs import Costs
from pipeline.optimize.encodings import encoding_class
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model
from pipeline.optimize.hour_values import HourValues
from pipeline.optimize.instance import Instance, PlantInstance, check_feasible
from pipeline.optimize.live.remaining import PastHours, counted_network, past_failure_cost, the_press
from pipeline.optimize.network import FaultNetwork
from pipeline.optimize.solve import NoScheduleFoundError, ScheduleSolver, SolveResult, SubResult
from pipeline.optimize.verify import Verification, verify

CACHED_COUNTS = 64  # (inputs, total count) entries kept: a day sees a handful of inputs x 7 counts


@dataclass
class Solved:
    """A remaining-hours schedule, solved and verified."""

    instance: PlantInstance
    network: FaultNetwork           # counting the maintenances done
    result: SolveResult             # objective and bound include the past hours' failure cost
    verification: Verification
    past_cost: float                # that cost at the chosen N (USD, subtracted in `result`)
    build_s: float                  # parts, screening and Pyomo models
    solve_s: float                  # solver and verification
    built: int                      # sub-models built (the others screened out by their bounds)

    @property
    def proven(self) -> bool:
        return self.result.status == "optimal"


def _n_of(assignment: dict) -> int:
    return int(next(iter(assignment.values())))


class RemainingSolver:
    def __init__(self, net: FaultNetwork, optimize: DictConfig, costs: Costs, solver: DictConfig, time_limit_s: float):
        self.net, self.optimize, self.costs = net, optimize, costs
        self.opts = optimize.formulation  # checked when the config loaded (pipeline/core/settings/optimize.py)
        self.solver_cfg = OmegaConf.merge(solver, {"time_limit_s": float(time_limit_s)})
        # the past hours' failure cost is a constant of each sub-model's Pyomo objective, which the
        # humidity DP (day_dp.py) does not see: its bounds would prune counts wrongly
        self.search = OmegaConf.merge(optimize.search, {"day_dp": False})
        self.time_limit_s = float(time_limit_s)
        self.gap_target = float(solver.mip_rel_gap)
        self.encoder = encoding_class(str(self.opts.network_encoding))
        if not (bool(self.opts.enumerate_maintenance_count) and self.encoder.enumerates_maintenance):
            raise ValueError("the live planner solves one sub-model per maintenance count: set "
                             "optimize.formulation.enumerate_maintenance_count=true and an encoding that allows it "
                             f"(network_encoding={self.opts.network_encoding!r} does not)")
        self._counts: OrderedDict[tuple, tuple] = OrderedDict()

    # ---- the parts of each count
    def parts(self, inst: PlantInstance, done: int) -> tuple[list[dict], dict, dict]:
        """(assignments, encodings, hour values) of the remaining counts N' (formulation.shared_parts'
        triple, keyed by (press kind 0, N')), each count's from the cache when its inputs and total
        count were seen before."""
        net = counted_network(self.net, done)
        room, press = inst.room_instance(0), the_press(inst)
        counts = range(press.required_maintenance, min(press.max_maintenance, inst.hours) + 1)
        encodings, hour_values = {}, {}
        for n in counts:
            key = (tuple(sorted(press.fixed)), room.temperature_box, room.humidity_box, done + n)
            if key not in self._counts:
                enc = self.encoder(net, press, room, n, self.opts)
                hv = HourValues(enc, int(self.opts.hour_value_strips)) if bool(self.opts.hour_value_cuts) else None
                self._counts[key] = (enc, hv)
                while len(self._counts) > CACHED_COUNTS:
                    self._counts.popitem(last=False)
            self._counts.move_to_end(key)
            encodings[0, n], hour_values[0, n] = self._counts[key]
        if any(hv is None for hv in hour_values.values()):
            hour_values = {}
        return [{(0, 0): n} for n in counts], encodings, hour_values

    def warm(self, inst: PlantInstance, done: int) -> None:
        """Prepare the parts of `inst`'s counts and every hour's vertices (a re-plan ahead)."""
        _, _, hour_values = self.parts(inst, done)
        for hv in hour_values.values():
            for t in range(inst.hours):
                hv.candidates(inst.outside_temperature[t])

    def bounds(self, inst: PlantInstance, hour_values: dict, past_term: dict) -> dict[int, float] | None:
        """Each count's upper bound from the hour values (None: no hour values, or a negative price).

        With s_t = x_t / X in [0, 1], an hour earns at most q0_t + s_t (Qmax_t - q0_t) (the chord
        of hour_values.py, Qmax_t its best over every humidity); the demand asks sum s_t >= D / X and
        the capacity allows sum s_t <= hours - N' lost / X. The best such s (a fractional knapsack:
        the steepest hours first, then the least costly ones until the demand is met) bounds the
        count's optimum; humidity changes cost >= 0 and are left out."""
        if not hour_values or (inst.price < 0).any():
            return None
        one, press = inst.room_instance(0), the_press(inst)
        X = float(press.max_per_hour)
        need = float(inst.demand[0]) / X
        lost = (press.max_per_hour - press.capacity_in_maintenance_hour) / X
        out = {}
        for (_, n), hv in hour_values.items():
            q0 = np.array([hv.idle_value(one, 1.0, self.costs, t) for t in range(inst.hours)])
            qmax = np.array([float(hv.strip_maxima(one, press, 1.0, self.costs, t).max()) for t in range(inst.hours)])
            slope = np.sort(qmax - q0)[::-1]
            room = inst.hours - n * lost
            if need > room + 1e-9:
                out[n] = -math.inf
                continue
            s = np.clip(room - np.concatenate([[0.0], np.cumsum(np.ones(len(slope)))[:-1]]), 0.0, 1.0)
            take = np.where(slope > 0, s, 0.0)
            short = need - take.sum()
            if short > 0:  # the demand: the least costly of the hours left, in order
                extra = np.clip(short - np.concatenate([[0.0], np.cumsum(s - take)[:-1]]), 0.0, s - take)
                take = take + extra
            out[n] = float(q0.sum() + slope @ take) - self.costs.maintenance * n + past_term[n]
        return out

    # ---- the search
    def solve(self, inst: PlantInstance, done: int, start: dict | None = None, past: PastHours | None = None) -> Solved:
        """Build, solve within the time limit (warm-started from `start`), verify. Raises
        NoScheduleFoundError (nothing found in time) or VerificationError (nothing to publish)."""
        begin = time.perf_counter()
        check_feasible(inst)
        net = counted_network(self.net, done)
        networks = {the_press(inst).network_file: net}
        assignments, encodings, hour_values = self.parts(inst, done)
        past_term = {_n_of(a): -past_failure_cost(self.net, past, done + _n_of(a), self.costs) for a in assignments}
        bounds = self.bounds(inst, hour_values, past_term)
        n_start = int(start["N"][0, 0]) if start is not None else None

        def recount(plan: dict, n: int) -> dict | None:
            return start_schedule(inst, plan["T"], plan["H"], plan["x"], plan["b"], n)
        build_s = 0.0

        def build(counts: list[int]) -> ScheduleModel:
            nonlocal build_s
            t0 = time.perf_counter()
            schedule = build_schedule_model(inst.room_instance(0), networks, self.costs, self.opts,
                                            shared=([{(0, 0): n} for n in counts], encodings, hour_values))
            for sub in schedule.submodels:
                m = sub.model
                m.past_failure_cost = pe.Param(mutable=True, initialize=past_term[_n_of(sub.n_fixed)])
                m.profit.set_value(m.profit.expr + m.past_failure_cost)
            build_s += time.perf_counter() - t0
            return schedule

        def search(schedule: ScheduleModel, first: dict | None) -> SolveResult:
            left = max(self.time_limit_s - (time.perf_counter() - begin), 0.1)
            cfg = OmegaConf.merge(self.solver_cfg, {"time_limit_s": left})
            # a fresh solver each time: its persistent solvers belong to the models it solved
            return ScheduleSolver(cfg, self.search).solve(schedule, first)

        screened: list[tuple[int, float]] = []
        if bounds is None:
            result = search(build([_n_of(a) for a in assignments]), start)
            built = len(assignments)
        else:
            top = max(bounds, key=bounds.get)
            first = build([top])
            try:
                result = search(first, start if start is None or n_start == top else recount(start, top))
                threshold = result.objective + self.gap_target * abs(result.objective) + 1e-6 * (abs(result.objective) + 1)
            except NoScheduleFoundError:  # nothing in time there: every other count is searched
                result, threshold = None, -math.inf
            others = [n for n in bounds if n != top and bounds[n] > threshold]
            screened = [(n, bounds[n]) for n in bounds if n != top and n not in others]
            built = 1 + len(others)
            if others:
                second = build(others)
                second.submodels.insert(0, first.submodels[0])  # its schedule is the incumbent and cutoff
                result = search(second, _as_start(result.values, inst) if result is not None else start)
            elif result is None:
                raise NoScheduleFoundError(f"no schedule for the remaining hours within {self.time_limit_s:g} s "
                                           f"(replan.solve.time_limit_s)")
        result = self._with_screened(result, screened)
        constant = past_term[int(result.values["N"][0, 0])]
        # checked: the Pyomo objective at the schedule returned (the solver's own figure for it may
        # differ by its tolerances, e.g. where the polish LP moved the continuous part)
        at_schedule = float(result.values["objective"])
        ver = verify(inst, networks, replace(result, objective=at_schedule - constant), self.costs,
                     self._checked_against(at_schedule, at_schedule - constant))
        total = time.perf_counter() - begin
        return Solved(inst, net, result, ver, -constant, build_s, total - build_s, built)

    def _checked_against(self, solved: float, compared: float) -> DictConfig:
        """optimize's verification settings, the objective's relative tolerance taken of the objective
        the solver worked with (the past hours' term included), as the numpy value lacks that term."""
        scale = max(abs(solved), 1.0) / max(abs(compared), 1.0)
        if scale <= 1.0:
            return self.optimize
        rel = float(self.optimize.verification.objective_rel_tol) * scale
        return OmegaConf.merge(self.optimize, {"verification": {"objective_rel_tol": rel}})

    def _with_screened(self, result: SolveResult, screened: list[tuple[int, float]]) -> SolveResult:
        if not screened:
            return result
        bound = max(result.bound, *(b for _, b in screened))
        gap = (bound - result.objective) / max(abs(result.objective), 1e-9) if math.isfinite(bound) else math.inf
        status = "optimal" if gap <= self.gap_target + 1e-12 else result.status
        subs = [*result.subs, *(SubResult(f"N={n}", "pruned_by_hour_values", None, b, 0.0, 0, {}) for n, b in screened)]
        return replace(result, bound=bound, gap=gap, status=status, subs=subs)


def _as_start(values: dict, inst: PlantInstance) -> dict:
    """A solved schedule as a start schedule (setpoints clipped into their boxes: LP tolerances)."""
    room = inst.plant.rooms[0]
    return {**values, "T": np.clip(values["T"], *room.temperature_box), "H": np.clip(values["H"], *room.humidity_box)}


def start_schedule(inst: PlantInstance, T: np.ndarray, H: np.ndarray, x: np.ndarray, b: np.ndarray,
                   count: int | None = None) -> dict | None:
    """The current plan's remaining hours as a start schedule for `inst` (solve.ScheduleSolver.solve)
    with `count` maintenances (default: the plan's, within what is still allowed): the latest ones
    dropped, or new ones put in the hours that make the fewest units (the dearest first); then the
    units cut to each hour's capacity and topped up in the cheapest hours with room where the demand
    is not met (a stop). None if it cannot fit."""
    press, room = the_press(inst), inst.plant.rooms[0]
    x = np.array(x, int).reshape(1, -1).copy()
    b = np.array(b, int).reshape(1, -1).copy()
    most = min(press.max_maintenance, inst.hours)
    count = min(int(b.sum()), most) if count is None else int(count)
    if not press.required_maintenance <= count <= most:
        return None
    for t in np.flatnonzero(b[0])[::-1][: max(int(b.sum()) - count, 0)]:
        b[0, t] = 0
    free = np.flatnonzero(b[0] == 0)
    for t in free[np.lexsort((-inst.price[free], x[0, free]))][: max(count - int(b.sum()), 0)]:
        b[0, t] = 1
    cap = press.max_per_hour - (press.max_per_hour - press.capacity_in_maintenance_hour) * b[0]
    x[0] = np.minimum(x[0], cap)
    missing = int(inst.demand[0]) - int(x.sum())
    for t in np.argsort(inst.price, kind="stable"):
        if missing <= 0:
            break
        add = min(int(cap[t] - x[0, t]), missing)
        x[0, t] += add
        missing -= add
    if missing > 0:
        return None
    return {"T": np.clip(np.asarray(T, float), *room.temperature_box), "H": np.clip(np.asarray(H, float), *room.humidity_box),
            "x": x, "b": b, "N": np.array([[int(b.sum())]])}
