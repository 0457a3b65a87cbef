"""Several days and several presses, solved as single-press, single-day problems with a valid
global bound.

The horizon's days are coupled only by the humidity change at midnight (and by the demand if
it is per horizon); the presses only by the shared room climate and the shared demand. The
presses are identical (same fixed inputs, same network), so:

- Bound. Give every press its own room at 1/K of the room's energy cost (any shared-climate
  schedule is one of those, at the same cost), let every day after the first choose its own
  starting humidity (the midnight change costs nothing), and price the shared demand with a
  Lagrange multiplier lambda >= 0 per demand block (a bonus of lambda per unit made, minus
  lambda times the demand). What is left is one single-press day problem per day, the same
  for every press, and
      UB(lambda) = K * sum_d UB_d(lambda) - sum_b lambda_b D_b
  bounds the optimum for every lambda >= 0 (UB_d: the day problem's proven bound). With one
  press and demand per day, each day keeps its own demand constraint and lambda is not needed.
- Schedule. Every press runs the day plan of that relaxation, so the room climate is shared by
  construction; where a day's plan starts at another humidity than the day before ended, the
  day is re-solved with its start fixed (the chain). If the relaxed plans do not meet the
  demand, each press makes its equal share (its day problem with demand ceil(D / K) per day).
  The result's gap is the distance to the best bound: reported, never hidden.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import astuple, dataclass, field, replace

import numpy as np
from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model, fix_start, set_costs, shared_parts
from pipeline.optimize.instance import Instance
from pipeline.optimize.network import FaultNetwork
from pipeline.optimize.solve import NoScheduleFoundError, ScheduleSolver, SolveResult, SubResult

log = logging.getLogger(__name__)

MIN_DAY_SECONDS = 2.0  # a chain re-solve with less time than this keeps the day's relaxed plan
LAMBDA_STEPS = 6       # bisection steps on the demand's Lagrange multiplier (bound only)


@dataclass
class DaySolve:
    """One day problem's answer: its plan (single press), objective and proven bound."""

    values: dict
    objective: float
    bound: float
    result: SolveResult


@dataclass
class DecomposedSchedule:
    """A horizon of several days and/or presses as single-press day problems (see the module)."""

    instance: Instance
    network: FaultNetwork
    options: DictConfig
    shared: tuple
    days: dict = field(default_factory=dict)         # d -> ScheduleModel of day d (built on first use)
    warnings: list[str] = field(default_factory=list)
    build_seconds: float | None = None
    bound_seconds: float = 0.0
    costs: Costs | None = None
    _cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, inst: Instance, net: FaultNetwork, costs: Costs, opts: DictConfig) -> "DecomposedSchedule":
        start = time.perf_counter()
        shared = shared_parts(inst.day(0, inst.humidity_initial), net, opts)
        plan = cls(inst, net, opts, shared, costs=costs)
        plan.bound_seconds = time.perf_counter() - start
        return plan

    @property
    def coupled(self) -> bool:
        """Is the demand shared (several presses, or one demand for the horizon)?"""
        return self.instance.presses > 1 or self.instance.demand_blocks is not self.instance.days

    def day_model(self, d: int, costs: Costs) -> ScheduleModel:
        if d not in self.days:
            inst = self.instance.day(d, self.instance.humidity_initial, presses=1,
                                     room_share=1.0 / self.instance.presses)
            self.days[d] = build_schedule_model(inst, self.network, costs, self.options, self.shared)
        model = self.days[d]
        if model.costs != costs:
            set_costs(model, costs)
        return model

    def day_solve(self, d: int, costs: Costs, solver: ScheduleSolver, start_humidity: float | None,
                  demand: int | None, time_limit: float) -> DaySolve:
        """Day d for one press: its start humidity (None: free) and its demand (None: none)."""
        inst = self.instance
        key = (tuple(inst.price[inst.days[d]]), tuple(inst.outside_temperature[inst.days[d]]),
               start_humidity, demand, astuple(costs))
        if key in self._cache:
            return self._cache[key]
        model = self.day_model(d, costs)
        for sub in model.submodels:
            fix_start(sub.model, start_humidity)
            con = sub.model.demand[0]
            if demand is None:
                con.deactivate()
            else:
                con.activate()
                con.set_value(con.body >= float(demand))
        solver.solver_cfg = _with_limit(solver.solver_cfg, time_limit)
        solver.limit_applied = (f"day {d + 1} of {len(inst.days)}: its share of solver.time_limit_s = "
                                f"{getattr(self, '_limit', time_limit):g} s for the whole horizon, the time left split over the day "
                                "problems left; raise solver.time_limit_s or shorten optimize.horizon_hours")
        result = solver.solve(model)
        answer = DaySolve(result.values, result.objective, result.bound, result)
        self._cache[key] = answer
        return answer

    def solve(self, costs: Costs, solver: ScheduleSolver) -> SolveResult:
        start = time.perf_counter()
        limit = float(solver.solver_cfg.time_limit_s)
        base_cfg, base_note, self._limit = solver.solver_cfg, solver.limit_applied, limit
        try:
            result = self._solve(costs, solver, start, limit)
        finally:
            solver.solver_cfg, solver.limit_applied = base_cfg, base_note
        return result

    def _share(self, start: float, limit: float, parts_left: int) -> float:
        return max((limit - (time.perf_counter() - start)) / max(parts_left, 1), 0.1)

    def _chain(self, plans: list[DaySolve], costs: Costs, solver: ScheduleSolver, demands: list,
               begin: float, limit: float) -> list[DaySolve]:
        """Each day starts where the day before ended: re-solved with that start where its plan
        starts elsewhere; with no time left (or no schedule found in it) the plan is kept and
        pays its midnight humidity change."""
        chained, end = [], self.instance.humidity_initial
        for d, plan in enumerate(plans):
            if d > 0 and abs(plan.values["H"][0] - end) > 1e-7:
                share = self._share(begin, limit, len(plans) - d)
                solved = None
                if share >= MIN_DAY_SECONDS:
                    try:
                        solved = self.day_solve(d, costs, solver, float(end), demands[d], share)
                    except NoScheduleFoundError:
                        solved = None
                plan = solved if solved is not None and solved.objective >= self._linked(plan, d, end, costs).objective \
                    else self._linked(plan, d, end, costs)
            chained.append(plan)
            end = float(plan.values["H"][-1])
        return chained

    def _linked(self, plan: DaySolve, d: int, start: float, costs: Costs) -> DaySolve:
        """A free-start day plan after a day that ended at humidity `start`: it pays the change."""
        inst = self.instance
        first = inst.days[d][0]
        change = abs(float(plan.values["H"][0]) - start)
        usd = inst.price[first] * inst.usd_per_kwh_per_usd_per_mwh / inst.presses
        values = dict(plan.values, eH=np.concatenate([[change], plan.values["eH"][1:]]))
        return replace(plan, values=values, objective=plan.objective - usd * costs.humidity_kwh * change)

    def _solve(self, costs: Costs, solver: ScheduleSolver, begin: float, limit: float) -> SolveResult:
        inst = self.instance
        n_days = len(inst.days)
        if not self.coupled:          # one press, demand per day: each day keeps its demand
            plans = self._relaxed(costs, solver, begin, limit, n_days + 1)
            bounds, demands = [p.bound for p in plans], list(inst.demand)
        elif inst.demand_blocks is inst.days:  # several presses, demand per day: day by day
            plans, bounds, demands = [], [], []
            for d in range(n_days):
                plan, bound, demand = self._shared_day(d, costs, solver, self._share(begin, limit, 2 * (n_days - d) + 1))
                plans.append(plan)
                bounds.append(bound)
                demands.append(demand)
        else:                         # demand over the horizon
            plans, bound, demands = self._shared_horizon(costs, solver, begin, limit)
            bounds = [bound / n_days] * n_days  # only their sum means anything
        chained = self._chain(plans, costs, solver, demands, begin, limit)
        return self._assemble(chained, bounds, costs, solver, time.perf_counter() - begin)

    def _shared_day(self, d: int, costs: Costs, solver: ScheduleSolver, share: float):
        """Day d for K presses sharing its demand D: the free plan if K copies of it meet D, else
        each press's equal share; the bound K UB(lambda) - lambda D at the best lambda tried."""
        inst, K = self.instance, self.instance.presses
        start_h = inst.humidity_initial if d == 0 else None
        free = self.day_solve(d, costs, solver, start_h, None, share)
        bound = K * free.bound
        if K * free.values["x"][0].sum() >= inst.demand[d]:
            return free, bound, None
        demand = math.ceil(inst.demand[d] / K - 1e-9)
        plan = self.day_solve(d, costs, solver, start_h, demand, share)
        lo, hi = 0.0, costs.revenue + costs.penalty
        for _ in range(LAMBDA_STEPS):
            lam = (lo + hi) / 2
            priced = self.day_solve(d, replace(costs, unit_bonus=lam), solver, start_h, None, share)
            made = priced.values["x"][0].sum()
            bound = min(bound, K * priced.bound - lam * inst.demand[d])
            if K * made >= inst.demand[d]:
                lo, hi = lo, lam
                # a plan that meets the demand is a schedule too: its objective without the bonus
                real = priced.objective - lam * made
                if real > plan.objective:
                    plan = replace(priced, objective=real, values=dict(priced.values, objective=real))
                    demand = int(made)
            else:
                lo, hi = lam, hi
        return plan, max(bound, K * plan.objective), demand

    def _shared_horizon(self, costs: Costs, solver: ScheduleSolver, begin: float, limit: float):
        """One demand D over the horizon: the free plans if they meet it, else every press and day
        its equal share; the bound K sum_d UB_d(lambda) - lambda D at the best lambda tried."""
        inst, K, n_days = self.instance, self.instance.presses, len(self.instance.days)
        total = float(inst.demand[0])
        work = n_days * (LAMBDA_STEPS + 3)
        free = self._relaxed(costs, solver, begin, limit, work)
        bound = K * sum(p.bound for p in free)
        if K * sum(p.values["x"][0].sum() for p in free) >= total:
            return free, bound, [None] * n_days
        shares = [math.ceil(total * len(inst.days[d]) / inst.hours / K - 1e-9) for d in range(n_days)]
        plans = [self.day_solve(d, costs, solver, inst.humidity_initial if d == 0 else None, shares[d],
                                self._share(begin, limit, work - n_days - d)) for d in range(n_days)]
        lo, hi = 0.0, costs.revenue + costs.penalty
        for step in range(LAMBDA_STEPS):
            lam = (lo + hi) / 2
            priced = self._relaxed(replace(costs, unit_bonus=lam), solver, begin, limit, work - 2 * n_days * (step + 1))
            bound = min(bound, K * sum(p.bound for p in priced) - lam * total)
            made = K * sum(p.values["x"][0].sum() for p in priced)
            lo, hi = (lo, lam) if made >= total else (lam, hi)
        return plans, bound, shares

    def _relaxed(self, costs: Costs, solver: ScheduleSolver, begin: float, limit: float, work: int) -> list[DaySolve]:
        """Every day with a free start (day 0: the configured one); uncoupled, each with its own demand."""
        inst, out = self.instance, []
        for d in range(len(inst.days)):
            demand = None if self.coupled else inst.demand[d]
            start_h = inst.humidity_initial if d == 0 else None
            out.append(self.day_solve(d, costs, solver, start_h, demand, self._share(begin, limit, work - d)))
        return out

    def _assemble(self, chained: list[DaySolve], bounds: list[float], costs: Costs,
                  solver: ScheduleSolver, seconds: float) -> SolveResult:
        inst = self.instance
        K = inst.presses
        cat = lambda key: np.concatenate([c.values[key] for c in chained])  # noqa: E731
        values = {"T": cat("T"), "H": cat("H"), "eT": cat("eT"), "eH": cat("eH"),
                  "x": np.repeat(np.concatenate([c.values["x"][0] for c in chained])[None], K, axis=0),
                  "b": np.repeat(np.concatenate([c.values["b"][0] for c in chained])[None], K, axis=0),
                  "p": np.repeat(np.concatenate([c.values["p"][0] for c in chained])[None], K, axis=0),
                  "N": np.repeat(np.array([[c.values["N"][0, 0] for c in chained]]), K, axis=0)}
        # the sub-problems' own objectives: K presses each paying 1/K of the room (verify.py checks
        # this sum against numpy's recomputation of the whole horizon)
        objective = K * sum(c.objective for c in chained)
        values["objective"] = objective
        bound = max(sum(bounds) if self.coupled else sum(bounds) * K, objective)
        gap = (bound - objective) / max(abs(objective), 1e-9)
        subs = [SubResult(f"day {d}", c.result.status, K * c.objective, bounds[d] * (1 if self.coupled else K),
                          c.result.seconds, c.result.nodes, {}, None) for d, c in enumerate(chained)]
        time_hit = any(c.result.time_limit_hit for c in chained)
        status = "optimal" if gap <= float(solver.solver_cfg.mip_rel_gap) + 1e-12 else (
            "time_limit" if time_hit else "feasible")
        if not chained:
            raise NoScheduleFoundError("the horizon has no day")
        sigmoid = max(c.result.sigmoid_error_bound for c in chained)
        log.info("decomposed: %d day(s) x %d press(es): objective %.2f, bound %.2f, gap %.2e", len(chained), K,
                 objective, bound, gap)
        return SolveResult(solver.name, status, objective, bound, gap, seconds,
                           sum(c.result.nodes for c in chained), time_hit, -1, values, subs,
                           all(c.result.polished for c in chained), "decomposition", sigmoid)


def _with_limit(cfg: DictConfig, seconds: float) -> DictConfig:
    from omegaconf import OmegaConf

    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.time_limit_s = float(seconds)
    return out
