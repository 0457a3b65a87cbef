"""Solving a ScheduleModel with any Pyomo solver named in conf/solver, and reading it back.

Sub-models (one per enumerated maintenance count) are solved best-first; their bounds
together prove the optimum: overall bound = max of the sub-models' bounds. A time limit
returns the best schedule found with its gap, flagged. Gurobi's size-limited licence error
becomes one sentence saying what to do instead.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig, OmegaConf

from pipeline.optimize.formulation import ScheduleModel, SubModel

log = logging.getLogger(__name__)

DEFAULT_SEARCH = {"polish": True, "prune_with_incumbent": True}  # conf/optimize `search`


class SolverUnavailableError(RuntimeError):
    """The configured solver cannot be used here (not installed, or its licence refuses the model)."""


class NoScheduleFoundError(RuntimeError):
    """The solver ended without any feasible schedule (e.g. a time limit too short)."""


@dataclass
class SubResult:
    label: str
    status: str
    objective: float | None
    bound: float | None
    seconds: float
    nodes: int | None
    stats: dict


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


def make_solver(solver_cfg: DictConfig, time_limit: float):
    from pyomo.contrib.solver.common.factory import SolverFactory

    name = str(solver_cfg.name)
    try:
        solver = SolverFactory(name)
    except Exception as exc:
        raise SolverUnavailableError(f"solver {name!r} is not a Pyomo solver here ({exc}); use solver=highs") from exc
    if not solver.available():
        raise SolverUnavailableError(f"solver {name!r} is not available on this machine; use solver=highs")
    if name == "highs":
        # HiGHS keeps one scheduler per process, sized by the first run's `threads`; a later run
        # asking for more threads then fails with status 'unknown'. Reset it so ours applies.
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    solver.config.time_limit = max(float(time_limit), 1.0)
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
    from pipeline.optimize.formulation import model_stats

    s = model_stats(model)
    return (f"Gurobi's size-limited licence (pip's gurobipy) refuses this {s['variables']}-variable, "
            f"{s['constraints']}-constraint model (limit 2,000 each): use solver=highs, shorten "
            f"optimize.horizon_hours, or install a full Gurobi licence. ({name}: {exc})")


def _solve_one(solver, sub: SubModel, name: str):
    try:
        return solver.solve(sub.model)
    except Exception as exc:
        text = str(exc)
        if "size-limited" in text or "too large" in text.lower() or "10010" in text:
            raise SolverUnavailableError(_licence_message(name, exc, sub.model)) from None
        raise


def _polish(solver, sub: SubModel, name: str) -> bool:
    """Fix the integers at their values and re-solve the LP: the continuous part (setpoints,
    energies, p_t) becomes exactly optimal for that integer schedule."""
    fixed = []
    for v in sub.model.component_data_objects(pe.Var, active=True):
        if v.is_integer() and not v.fixed and v.value is not None:
            v.fix(round(v.value))
            fixed.append(v)
    try:
        res = _solve_one(solver, sub, name)
        ok = res.incumbent_objective is not None
        if ok:
            res.solution_loader.load_vars()
        return ok
    finally:
        for v in fixed:
            v.unfix()


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


def _solve_sub(schedule: ScheduleModel, i: int, solvers: "ScheduleSolver", time_limit: float,
               cutoff: float | None) -> dict:
    """Solve sub-model i (and polish its incumbent); a plain, picklable summary."""
    solver_cfg = solvers.solver_cfg
    name = str(solver_cfg.name)
    sub = schedule.submodels[i]
    solver = solvers.for_submodel(sub, time_limit)
    if cutoff is not None and name == "highs":
        # HiGHS stops once its dual bound cannot beat the best schedule found so far
        solver.config.solver_options["objective_bound"] = cutoff
    t0 = time.perf_counter()
    res = _solve_one(solver, sub, name)
    tc = str(res.termination_condition).split(".")[-1]
    nodes = getattr(res.extra_info, "mip_node_count", None)
    obj, bound = res.incumbent_objective, res.objective_bound
    if bound is None or (isinstance(bound, float) and math.isnan(bound)):
        bound = math.inf
    if tc == "provenInfeasible":
        # under a cutoff, "infeasible" means: no schedule of this sub-model beats the cutoff
        bound, tc = (cutoff, "pruned") if cutoff is not None else (-math.inf, tc)
    elif tc == "objectiveLimit" and cutoff is not None:
        bound = min(bound, cutoff)
    out = {"i": i, "label": sub.label, "status": tc, "objective": obj, "bound": bound,
           "seconds": time.perf_counter() - t0, "nodes": int(nodes or 0), "values": None, "polished": False}
    if obj is not None:
        res.solution_loader.load_vars()
        if bool(solvers.search.polish):
            solver.config.solver_options.pop("objective_bound", None)
            out["polished"] = _polish(solver, sub, name)
        out["values"] = read_values(schedule, sub)
        out["objective"] = max(obj, out["values"]["objective"]) if out["polished"] else obj
    log.info("%s: %s objective=%s bound=%s %.2fs nodes=%s", sub.label, tc, obj, bound, out["seconds"], nodes)
    return out


_FORKED: dict = {}


def _forked_sub(args) -> dict:
    i, time_limit = args
    return _solve_sub(_FORKED["schedule"], i, _FORKED["solvers"], time_limit, None)


def solve(schedule: ScheduleModel, solver_cfg: DictConfig, search: DictConfig | None = None,
          order: list[int] | None = None) -> SolveResult:
    """Solve with a fresh ScheduleSolver (no state kept between calls)."""
    return ScheduleSolver(solver_cfg, search).solve(schedule, order)


class ScheduleSolver:
    """The solve-time side: solver configuration, search options (optimize.search) and one
    persistent Pyomo solver per sub-model, so that a re-solve after set_costs only passes the
    changed coefficients. Keep one per sweep; the models themselves hold no solver state."""

    def __init__(self, solver_cfg: DictConfig, search: DictConfig | None = None):
        self.solver_cfg = solver_cfg
        self.search = search if search is not None else OmegaConf.create(DEFAULT_SEARCH)
        self._solvers: dict[int, object] = {}

    def for_submodel(self, sub: SubModel, time_limit: float):
        """The sub-model's persistent solver, with this call's time limit and options."""
        fresh = make_solver(self.solver_cfg, time_limit)
        solver = self._solvers.setdefault(id(sub.model), fresh)
        solver.config.time_limit = fresh.config.time_limit
        solver.config.solver_options.clear()
        solver.config.solver_options.update(fresh.config.solver_options)
        return solver

    def solve(self, schedule: ScheduleModel, order: list[int] | None = None) -> SolveResult:
        """Solve every sub-model within one time budget; the best schedule and the proven bound
        (the maximum of the sub-models' bounds). With solver.workers > 1 the independent
        sub-models run in parallel processes; otherwise in sequence, each one cut off by the best
        schedule found before it (optimize.formulation.prune_with_incumbent)."""
        solver_cfg = self.solver_cfg
        name = str(solver_cfg.name)
        limit = float(solver_cfg.time_limit_s)
        gap_target = float(solver_cfg.mip_rel_gap)
        workers = int(solver_cfg.get("workers", 1))
        start = time.perf_counter()
        order = order if order is not None else list(range(len(schedule.submodels)))
        prune = bool(self.search.prune_with_incumbent)
        results: list[dict] = []
        if workers > 1 and len(order) > 1:
            import multiprocessing as mp

            _FORKED.update(schedule=schedule, solvers=self)
            try:  # fork: the children inherit the built models; each solves whole sub-models
                with mp.get_context("fork").Pool(min(workers, len(order))) as pool:
                    # each worker runs ceil(n / workers) sub-models one after another: split the budget
                    rounds = math.ceil(len(order) / min(workers, len(order)))
                    results = pool.map(_forked_sub, [(i, limit / rounds) for i in order], chunksize=1)
            finally:
                _FORKED.clear()
        else:
            best = -math.inf
            for done, i in enumerate(order):
                remaining = limit - (time.perf_counter() - start)
                # an even share of what is left, so that a time limit still bounds every sub-model
                # (time a quick sub-model does not use rolls over to the ones after it)
                share = remaining / (len(order) - done)
                if remaining <= 0:
                    results.append({"i": i, "label": schedule.submodels[i].label, "status": "not_started",
                                    "objective": None, "bound": math.inf, "seconds": 0.0, "nodes": 0,
                                    "values": None, "polished": False})
                    continue
                out = _solve_sub(schedule, i, self, share, best if prune and best > -math.inf else None)
                results.append(out)
                if out["objective"] is not None:
                    best = max(best, out["objective"])
        found = [r for r in results if r["values"] is not None]
        if not found:
            raise NoScheduleFoundError(f"{name} found no feasible schedule within {limit:g} s "
                                       f"(solver.time_limit_s); statuses: {[r['status'] for r in results]}")
        top = max(found, key=lambda r: r["objective"])
        bound = max(r["bound"] for r in results)
        objective = float(top["objective"])
        gap = max((bound - objective) / max(abs(objective), 1e-9), 0.0) if math.isfinite(bound) else math.inf
        time_hit = any(r["status"] in ("maxTimeLimit", "not_started") for r in results)
        status = "optimal" if gap <= gap_target + 1e-12 else ("time_limit" if time_hit else "feasible")
        subs = [SubResult(r["label"], r["status"], r["objective"], r["bound"] if math.isfinite(r["bound"]) else None,
                          r["seconds"], r["nodes"], schedule.submodels[r["i"]].stats) for r in results]
        return SolveResult(name, status, objective, bound, gap, time.perf_counter() - start,
                           sum(r["nodes"] for r in results), time_hit, top["i"], top["values"], subs, top["polished"])
