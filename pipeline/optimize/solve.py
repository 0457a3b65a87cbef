"""Solving a ScheduleModel with any Pyomo solver named in conf/solver, and reading it back.

The sub-models (one per enumerated maintenance count N) are independent, so the optimum is
the best of their optima and the proven bound is the largest of their bounds. The search
(optimize.search) uses that:
1. every sub-model's LP relaxation is solved first (milliseconds; with the hour-value cuts it
   lies within a fraction of a percent of the sub-model's optimum) and is a valid bound;
2. a start schedule (the neighbouring sweep point's, say) is completed in every sub-model of
   its maintenance count and evaluated under the current costs: an incumbent at once;
3. the sub-models are solved best bound first; one whose bound cannot beat the incumbent by
   more than the gap target is pruned without a solve, and every solve gets the incumbent as
   its cutoff (for HiGHS, `objective_bound` in its own minimisation sense; Gurobi: Cutoff);
4. the new incumbent's integers are fixed and the LP re-solved ("polish").
Whatever stops the search (its time limit), the result carries the bound that is proven: the
largest of the solved sub-models' dual bounds and the unsolved ones' LP bounds.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig, OmegaConf

from pipeline.core.settings.solver import SOLVERS
from pipeline.optimize.formulation import ScheduleModel, SubModel, bits_of, ensure_cuts, model_stats

log = logging.getLogger(__name__)

DEFAULT_SEARCH = {"polish": True, "prune": True, "lp_bounds": True, "start": True}  # conf/optimize `search`
# HiGHS's primal heuristics, off once an incumbent is known (optimize.search.heuristics_with_incumbent)
HIGHS_NO_HEURISTICS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False,
                       "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                       "mip_heuristic_run_root_reduced_cost": False}
HIGHS_HEURISTICS_ON = {"mip_heuristic_effort": 0.05, "mip_heuristic_run_feasibility_jump": True,
                       "mip_heuristic_run_rins": True, "mip_heuristic_run_rens": True,
                       "mip_heuristic_run_root_reduced_cost": True}  # HiGHS 1.15's defaults
COARSE_CELLS = 128  # the humidity DP's first pass (day_dp.py): a bound for every sub-model in milliseconds


# A solver's primal feasibility tolerance (HiGHS 1e-7, Gurobi 1e-6), relative to the bound:
# a value this close outside a variable's bounds is that bound.
BOUND_TOLERANCE = 1e-6


class SolverUnavailableError(RuntimeError):
    """The configured solver cannot be used here (not installed, or its licence refuses the model)."""


class NoScheduleFoundError(RuntimeError):
    """The solver ended without any feasible schedule (e.g. a time limit too short); `bound`, where
    set, is the upper bound it did prove."""

    bound: float = math.inf


@dataclass
class SubResult:
    label: str
    status: str                 # a solver's termination, or pruned_by_lp_bound / not_started
    objective: float | None
    bound: float | None         # proven upper bound of this sub-model
    seconds: float
    nodes: int | None
    stats: dict
    lp_bound: float | None = None
    solver: str | None = None   # the MILP solver that ran it (solver.name=auto: gurobi_direct or highs)


@dataclass
class SolveResult:
    solver: str
    status: str                 # optimal | time_limit | feasible
    objective: float            # MILP objective of the chosen schedule (USD)
    bound: float                # proven upper bound on the objective (USD)
    gap: float                  # (bound - objective) / |objective|
    seconds: float
    nodes: int
    time_limit_hit: bool
    best: int                   # index of the sub-model holding the schedule
    values: dict                # arrays of the schedule (T, H, x, b, p, eT, eH, N)
    subs: list[SubResult] = field(default_factory=list)
    polished: bool = False
    incumbent_source: str = "search"  # search | start (the start schedule was not beaten)
    sigmoid_error_bound: float = 0.0  # the PWL sigmoid's proven error where the schedule was found


def make_solver(solver_cfg: DictConfig, time_limit: float):
    """A Pyomo solver for conf/solver; a clear error if it is unknown or unusable here."""
    from pyomo.contrib.solver.common.factory import SolverFactory

    name = str(solver_cfg.name)
    try:
        solver = SolverFactory(name)
    except Exception:
        raise SolverUnavailableError(f"solver.name={name!r} is not a Pyomo solver; use one of {list(SOLVERS)} "
                                     "(solver=highs or solver=gurobi)") from None
    if not solver.available():
        raise SolverUnavailableError(f"solver.name={name!r} is not available on this machine; use solver=highs")
    if name == "highs":
        # HiGHS keeps one scheduler per process, sized by the first run's `threads`; a later run
        # asking for more threads then fails with status 'unknown'. Reset it so ours applies.
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    solver.config.time_limit = max(float(time_limit), 0.1)
    solver.config.rel_gap = float(solver_cfg.mip_rel_gap)
    solver.config.threads = int(solver_cfg.threads)
    solver.config.load_solutions = False
    solver.config.raise_exception_on_nonoptimal_result = False
    options = dict(OmegaConf.to_container(solver_cfg.options) if solver_cfg.get("options") else {})
    if name.startswith("gurobi"):
        options.setdefault("OutputFlag", 0)  # gurobipy logs to the console by default
    solver.config.solver_options.update(options)
    return solver


def _licence_message(name: str, exc: Exception, model: pe.ConcreteModel) -> str:
    s = model_stats(model)
    return (f"Gurobi's size-limited licence (pip's gurobipy) refuses this {s['variables']}-variable, "
            f"{s['constraints']}-constraint model (limit 2,000 each): use solver=auto (Gurobi where the licence "
            f"admits a model, HiGHS elsewhere) or solver=highs, drop the hour-value cuts "
            f"(optimize.formulation.hour_value_cuts=false), or install a full Gurobi licence. ({name}: {exc})")


def _run(solver, sub: SubModel, name: str):
    try:
        return solver.solve(sub.model)
    except Exception as exc:
        text = str(exc)
        if "size-limited" in text or "too large" in text.lower() or "10010" in text:
            raise SolverUnavailableError(_licence_message(name, exc, sub.model)) from None
        raise


def load_solution(res) -> None:
    """Load a result's values into its model, each value the solver left outside its variable's
    bounds by no more than its tolerance put on the bound: such a value (humidity 29.999999999999996
    on a box from 30) is the bound. Loaded as it came, it became the next point's start or a fixed
    value, and Pyomo logged one "outside the bounds" warning for each (259 lines in a `make repro`)."""
    from pyomo.core.staleflag import StaleFlagManager

    for var, value in res.solution_loader.get_vars().items():
        if value is not None:
            lb, ub = var.lb, var.ub
            if lb is not None and lb - BOUND_TOLERANCE * max(1.0, abs(lb)) <= value < lb:
                value = lb
            elif ub is not None and ub < value <= ub + BOUND_TOLERANCE * max(1.0, abs(ub)):
                value = ub
        var.set_value(value, skip_validation=True)
    StaleFlagManager.mark_all_as_stale(delayed=True)


def read_values(schedule: ScheduleModel, sub: SubModel) -> dict:
    m, inst = sub.model, schedule.instance
    K, H = range(inst.presses), range(inst.hours)
    return {
        "T": np.array([pe.value(m.T[t]) for t in H]),
        "H": np.array([pe.value(m.H[t]) for t in H]),
        "eT": np.array([pe.value(m.eT[t]) for t in H]),
        "eH": np.array([pe.value(m.eH[t]) for t in H]),
        "x": np.array([[round(pe.value(m.x[k, t])) for t in H] for k in K], dtype=int),
        "b": np.array([[round(pe.value(m.b[k, t])) for t in H] for k in K], dtype=int),
        "p": np.array([[pe.value(m.p[k, t]) for t in H] for k in K]),
        "N": np.array([[round(pe.value(m.N[k, d])) for d in range(len(inst.days))] for k in K], dtype=int),
        "objective": float(pe.value(m.profit)),
    }


def _fixed(sub: SubModel, values: dict | None, rows: tuple = ()):
    """Fix the integers at their current values (values None) or a schedule's decisions (T, H,
    units in the bits of each press of `rows`, maintenance); returns the variables fixed, to unfix after."""
    m, fixed = sub.model, []
    if values is None:
        for v in m.component_data_objects(pe.Var, active=True):
            if v.is_integer() and not v.fixed and v.value is not None:
                v.fix(round(v.value))
                fixed.append(v)
        return fixed
    for t, (temp, hum) in enumerate(zip(values["T"], values["H"])):
        for v, value in ((m.T[t], temp), (m.H[t], hum)):
            v.fix(float(value))
            fixed.append(v)
    for (k, t), units in np.ndenumerate(values["x"]):
        for i in bits_of(rows[k]):
            m.u[k, t, i].fix((int(units) >> i) & 1)
            fixed.append(m.u[k, t, i])
        m.b[k, t].fix(int(values["b"][k, t]))
        fixed.append(m.b[k, t])
    return fixed


class ScheduleSolver:
    """The solve-time side: solver configuration, search options (optimize.search) and one
    persistent Pyomo solver per sub-model, so that a re-solve after set_costs only passes the
    changed coefficients. Keep one per sweep; the models themselves hold no solver state."""

    def __init__(self, solver_cfg: DictConfig, search: DictConfig | None = None):
        self.solver_cfg = solver_cfg
        self.search = search if search is not None else OmegaConf.create(DEFAULT_SEARCH)
        self.name = str(solver_cfg.name)
        self._solvers: dict[tuple[int, str, str], object] = {}
        self._choice: dict[int, str] = {}  # solver.name=auto: the MILP solver each sub-model got
        # how the limit of the next solve was set: the whole horizon's, or a day's share (decompose.py)
        self.limit_applied = "solver.time_limit_s, for the whole horizon"

    def mip_name(self, sub: SubModel) -> str:
        """The sub-model's MILP solver: the configured one, or for `auto` Gurobi where its licence
        admits the model (tried once per sub-model) and HiGHS otherwise."""
        if self.name != "auto":
            return self.name
        if id(sub.model) not in self._choice:
            from pyomo.contrib.solver.common.factory import SolverFactory

            self._choice[id(sub.model)] = "gurobi_direct" if SolverFactory("gurobi_direct").available() else "highs"
        return self._choice[id(sub.model)]

    def _run_mip(self, sub: SubModel, time_limit: float, cutoff: float | None = None):
        """Run the sub-model's MILP solver; for `auto`, a licence refusal falls back to HiGHS."""
        while True:
            name = self.mip_name(sub)
            solver = self._solver(sub, time_limit)
            self._with_cutoff(solver, cutoff, name)
            try:
                return _run(solver, sub, name)
            except SolverUnavailableError:
                if self.name != "auto" or name == "highs":
                    raise
                log.info("%s: Gurobi's licence refuses it, HiGHS instead (solver.name=auto)", sub.label)
                self._choice[id(sub.model)] = "highs"

    def _solver(self, sub: SubModel, time_limit: float, kind: str = "mip"):
        """The sub-model's persistent solver of this kind (the MILP solver, or HiGHS for its LP)."""
        name = self.mip_name(sub) if kind == "mip" else "highs"
        cfg = OmegaConf.merge(self.solver_cfg, {"name": name} if kind == "mip" else {"name": "highs", "options": {}})
        fresh = make_solver(cfg, time_limit)
        solver = self._solvers.setdefault((id(sub.model), kind, name), fresh)
        solver.config.time_limit = fresh.config.time_limit
        solver.config.solver_options.clear()
        solver.config.solver_options.update(fresh.config.solver_options)
        if cfg.name == "highs":  # options persist inside a HiGHS object: say each one every time
            defaults = {"solve_relaxation": kind == "lp", "objective_bound": math.inf, **HIGHS_HEURISTICS_ON}
            solver.config.solver_options.update({k: v for k, v in defaults.items()
                                                 if k not in fresh.config.solver_options or k == "solve_relaxation"})
        return solver

    def lp_bound(self, sub: SubModel) -> float:
        """The sub-model's LP relaxation (HiGHS): a valid upper bound of its optimum."""
        res = _run(self._solver(sub, 60.0, "lp"), sub, "highs")
        bound = res.incumbent_objective if res.incumbent_objective is not None else res.objective_bound
        if bound is None or not math.isfinite(bound):
            tc = str(res.termination_condition)
            return -math.inf if "nfeasible" in tc else math.inf
        return float(bound) + 1e-7 * (abs(float(bound)) + 1.0)  # LP tolerances

    def _with_cutoff(self, solver, cutoff: float | None, name: str) -> None:
        if cutoff is None:
            return
        if name == "highs":  # HiGHS minimises internally: the cutoff of a maximisation is negated
            solver.config.solver_options["objective_bound"] = -cutoff
            if not bool(self.search.get("heuristics_with_incumbent", True)):
                solver.config.solver_options.update(HIGHS_NO_HEURISTICS)
        elif name.startswith("gurobi"):
            solver.config.solver_options["Cutoff"] = cutoff

    def _polish(self, sub: SubModel) -> bool:
        """Fix the integers at their values and re-solve the LP: the continuous part (setpoints,
        energies, p_t) becomes exactly optimal for that integer schedule."""
        fixed = _fixed(sub, None)
        try:
            res = self._run_mip(sub, 60.0)
            ok = res.incumbent_objective is not None
            if ok:
                load_solution(res)
            return ok
        finally:
            for v in fixed:
                v.unfix()

    def evaluate_start(self, schedule: ScheduleModel, i: int, start: dict) -> dict | None:
        """Complete a start schedule (T, H, x, b) in sub-model i and value it under the current
        costs; None when it does not fit (another maintenance count, or infeasible there)."""
        sub = schedule.submodels[i]
        if any(n is not None and n != int(start["N"][k, d]) for (k, d), n in sub.n_fixed.items()):
            return None
        fixed = _fixed(sub, start, schedule.instance.rows)
        try:
            res = self._run_mip(sub, 30.0)
            if res.incumbent_objective is None:
                return None
            load_solution(res)
            return read_values(schedule, sub)
        finally:
            for v in fixed:
                v.unfix()

    def _solve_sub(self, schedule: ScheduleModel, i: int, time_limit: float, cutoff: float | None) -> dict:
        sub = schedule.submodels[i]
        t0 = time.perf_counter()
        res = self._run_mip(sub, time_limit, cutoff)
        tc = str(res.termination_condition).split(".")[-1]
        nodes = getattr(res.extra_info, "mip_node_count", None)
        obj, bound = res.incumbent_objective, res.objective_bound
        if bound is None or (isinstance(bound, float) and math.isnan(bound)):
            bound = math.inf
        if cutoff is not None and (obj is None or obj < cutoff):
            # under a cutoff the solver proves only "nothing better than the cutoff" (a schedule it
            # finds below the cutoff is of no use: the incumbent is better)
            obj = None
            bound = max(bound, cutoff) if tc == "maxTimeLimit" else cutoff
            tc = tc if tc == "maxTimeLimit" else "pruned_by_cutoff"
        elif tc == "provenInfeasible":
            bound = -math.inf
        out = {"status": tc, "objective": obj, "bound": float(bound), "seconds": time.perf_counter() - t0,
               "nodes": int(nodes or 0), "values": None, "polished": False, "solver": self.mip_name(sub)}
        if obj is not None:
            load_solution(res)
            if bool(self.search.polish):
                out["polished"] = self._polish(sub)
            out["values"] = read_values(schedule, sub)
            out["objective"] = max(obj, out["values"]["objective"]) if out["polished"] else obj
        return out

    def _day_dp(self, schedule: ScheduleModel, cells: int | None = None, subs: list[int] | None = None) -> dict:
        """Sub-models' DP answers (day_dp.py: a bound and an unvalued schedule) where the DP applies
        (one press, one day, N fixed, the two-input network; optimize.search.day_dp), with `cells`
        humidity cells (default optimize.search.dp_cells)."""
        if not bool(self.search.get("day_dp", False)):
            return {}
        from pipeline.optimize.day_dp import problem_of, solve_day

        cells = cells or int(self.search.get("dp_cells", 1024))
        out = {}
        for i in range(len(schedule.submodels)) if subs is None else subs:
            prob = problem_of(schedule, schedule.submodels[i], cells)
            if prob is None:
                return {}
            out[i] = solve_day(prob)
        return out

    def _dp_values(self, schedule: ScheduleModel, i: int, answer) -> dict | None:
        """The DP's schedule valued by the MILP itself (its decisions fixed: evaluate_start), so it
        carries the same numbers a MILP schedule would; with optimize.search.dp_value=dp (the
        decomposition's day problems) by the DP's own exact arithmetic, no Pyomo model built."""
        if answer.schedule is None:
            return None
        s = answer.schedule
        n = schedule.submodels[i].n_fixed[(0, 0)]
        if str(self.search.get("dp_value", "milp")) == "dp":
            start = schedule.start_humidity if schedule.start_humidity is not None else s["H"][0]
            return {"T": s["T"], "H": s["H"], "x": s["x"][None, :].astype(int), "b": s["b"][None, :].astype(int),
                    "p": s["p"][None, :], "N": np.array([[n]]), "eT": np.abs(schedule.instance.outside_temperature - s["T"]),
                    "eH": np.abs(s["H"] - np.concatenate([[start], s["H"][:-1]])), "objective": float(answer.value)}
        start = {"T": s["T"], "H": s["H"], "x": s["x"][None, :], "b": s["b"][None, :], "N": np.array([[n]])}
        return self.evaluate_start(schedule, i, start)

    def solve(self, schedule: ScheduleModel, start: dict | None = None) -> SolveResult:
        """Best bound first with pruning; the best schedule and the bound that is proven."""
        limit = float(self.solver_cfg.time_limit_s)
        tol = float(self.solver_cfg.mip_rel_gap)
        begin = time.perf_counter()
        subs = schedule.submodels
        fine = int(self.search.get("dp_cells", 1024))
        dp = self._day_dp(schedule, min(COARSE_CELLS, fine))  # a coarse DP first: most sub-models end there
        coarse = set(dp) if fine > COARSE_CELLS else set()
        if dp:  # the DP's bounds first: a sub-model's LP waits until the DP leaves it open
            lp = [dp[i].bound + 1e-9 * abs(dp[i].bound) + 1e-7 for i in range(len(subs))]  # float in the cell maxima
        else:
            lp = []
            for s in subs:
                if bool(self.search.lp_bounds):
                    ensure_cuts(schedule, s)
                lp.append(self.lp_bound(s) if bool(self.search.lp_bounds) else math.inf)
        rows = [{"i": i, "label": s.label, "status": "not_started", "objective": None, "bound": lp[i],
                 "seconds": 0.0, "nodes": 0, "values": None, "polished": False} for i, s in enumerate(subs)]
        best, source = None, "search"
        if start is not None and bool(self.search.start):
            for i in range(len(subs)):
                values = self.evaluate_start(schedule, i, start)
                if values is not None and (best is None or values["objective"] > rows[best]["objective"]):
                    rows[i].update(objective=values["objective"], values=values, status="start")
                    best, source = i, "start"
        todo, valued, lp_done = set(range(len(subs))), set(), set()
        while todo:
            i = max(todo, key=lambda j: lp[j])  # best bound first
            incumbent = rows[best]["objective"] if best is not None else None
            threshold = None if incumbent is None else incumbent + tol * abs(incumbent)
            if bool(self.search.prune) and threshold is not None and lp[i] <= threshold:
                pruned = "pruned_by_day_dp" if i in dp and i not in lp_done else "pruned_by_lp_bound"
                rows[i].update(status=rows[i]["status"] if rows[i]["status"] == "day_dp" else pruned)
                todo.discard(i)
                continue
            remaining = limit - (time.perf_counter() - begin)
            late = remaining <= 0.05
            if late and not (best is None and i in dp and i not in valued):  # a DP schedule is valued even late
                todo.discard(i)
                continue  # not_started: its bound stands
            if i in coarse and not late:  # still open after the coarse DP: the fine one
                coarse.discard(i)
                dp[i] = self._day_dp(schedule, fine, [i])[i]
                lp[i] = rows[i]["bound"] = min(lp[i], dp[i].bound + 1e-9 * abs(dp[i].bound) + 1e-7)
                continue
            if i in dp and i not in valued:  # the DP's schedule first: often it closes the gap
                valued.add(i)
                values = self._dp_values(schedule, i, dp[i])
                if values is not None and (incumbent is None or values["objective"] > incumbent):
                    rows[i].update(objective=values["objective"], values=values, status="day_dp",
                                   polished=bool(self.search.polish))
                    best, source = i, "day_dp"
                log.info("%s: day DP bound=%.4f schedule=%s", subs[i].label, lp[i],
                         None if values is None else round(values["objective"], 4))
                continue
            if late:
                todo.discard(i)
                continue
            ensure_cuts(schedule, subs[i])
            if i in dp and i not in lp_done and bool(self.search.lp_bounds):  # the LP may be tighter
                lp_done.add(i)
                lp[i] = rows[i]["bound"] = min(lp[i], self.lp_bound(subs[i]))
                continue
            todo.discard(i)
            out = self._solve_sub(schedule, i, remaining, threshold if bool(self.search.prune) else None)
            out["bound"] = min(out["bound"], lp[i])
            if rows[i]["values"] is not None and (out["values"] is None or out["objective"] < rows[i]["objective"]):
                out.update(objective=rows[i]["objective"], values=rows[i]["values"], polished=rows[i]["polished"])
            rows[i].update(out)
            if out["values"] is not None and (incumbent is None or out["objective"] > incumbent):
                best, source = i, "search"
            log.info("%s: %s objective=%s bound=%.4f LP=%.4f %.2fs nodes=%s", subs[i].label, out["status"],
                     out["objective"], out["bound"], lp[i], out["seconds"], out["nodes"])
        return self._result(schedule, rows, best, lp, source, time.perf_counter() - begin)

    def _result(self, schedule, rows, best, lp, source, seconds) -> SolveResult:
        limit = float(self.solver_cfg.time_limit_s)
        if best is None:
            exc = NoScheduleFoundError(f"{self.name} found no feasible schedule within {limit:.3g} s "
                                       f"({self.limit_applied}); statuses: {[r['status'] for r in rows]}")
            exc.bound = max(r["bound"] for r in rows)  # still proven: a decomposition can use it
            raise exc
        top = rows[best]
        objective = float(top["objective"])
        bound = max(max(r["bound"] for r in rows), objective)
        gap = (bound - objective) / max(abs(objective), 1e-9) if math.isfinite(bound) else math.inf
        time_hit = any(r["status"] in ("maxTimeLimit", "not_started") for r in rows)
        status = "optimal" if gap <= float(self.solver_cfg.mip_rel_gap) + 1e-12 else ("time_limit" if time_hit else "feasible")
        subs = [SubResult(r["label"], r["status"], r["objective"], r["bound"] if math.isfinite(r["bound"]) else None,
                          r["seconds"], r["nodes"], schedule.submodels[r["i"]].stats,
                          lp[r["i"]] if math.isfinite(lp[r["i"]]) else None, r.get("solver")) for r in rows]
        sigmoid = max(e.sigmoid.error_bound for e in schedule.submodels[top["i"]].encodings.values())
        return SolveResult(self.name, status, objective, bound, gap, seconds, sum(r["nodes"] for r in rows),
                           time_hit, top["i"], top["values"], subs, top["polished"], source, sigmoid)


def solve(schedule: ScheduleModel, solver_cfg: DictConfig, search: DictConfig | None = None,
          start: dict | None = None) -> SolveResult:
    """Solve with a fresh ScheduleSolver (no state kept between calls)."""
    return ScheduleSolver(solver_cfg, search).solve(schedule, start)
