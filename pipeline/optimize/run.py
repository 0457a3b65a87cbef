"""The optimize stage as plain functions: load, build once, solve, verify, write.

`prepare(cfg)` builds the plan once (network, prices, bounds, sub-models): one ScheduleModel
for one press and one day, a DecomposedSchedule (day problems with a global bound) for more;
`optimize(plan, cfg)` sets the costs and solves it (a sweep calls it again with other costs,
without rebuilding or re-tightening); `run_optimization(cfg, out_dir)` does both and writes
the outputs.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import DecomposedSchedule
from pipeline.optimize.encodings.base import free_box
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model, set_costs, unstable_counts
from pipeline.optimize.instance import Instance, build_instance, read_prices
from pipeline.optimize.network import load_fault_network
from pipeline.optimize.outputs import schedule_table, write_outputs
from pipeline.optimize.solve import ScheduleSolver, SolveResult
from pipeline.optimize.verify import verify

log = logging.getLogger(__name__)

Plan = ScheduleModel | DecomposedSchedule


def network_path(cfg: DictConfig) -> Path:
    return Path(cfg.paths.models) / str(cfg.optimize.network_file)


def prices_path(cfg: DictConfig) -> Path:
    return Path(cfg.paths.data) / str(cfg.optimize.prices_file)


def decomposes(inst: Instance, cfg: DictConfig) -> bool:
    """optimize.decomposition (one of pipeline/core/settings/optimize.DECOMPOSITION): auto decomposes
    several days or presses; none never does."""
    return str(cfg.optimize.get("decomposition", "auto")) == "auto" and (inst.presses > 1 or len(inst.days) > 1)


def prepare(cfg: DictConfig) -> Plan:
    """Validate inputs and build the model once (the expensive, cost-independent part)."""
    start = time.perf_counter()
    prices = read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours))
    inst = build_instance(cfg, prices)
    net = load_fault_network(network_path(cfg), float(cfg.optimize.max_abs_weight))
    costs = Costs.from_cfg(cfg.costs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if decomposes(inst, cfg):
            plan = DecomposedSchedule.build(inst, net, costs, cfg.optimize.formulation)
        else:
            plan = build_schedule_model(inst, net, costs, cfg.optimize.formulation)
        plan.warnings = net.check_box(free_box(inst), float(cfg.optimize.training_range_tolerance))
    for w in caught:
        log.warning("%s", w.message)
    plan.build_seconds = time.perf_counter() - start
    return plan


def solve_plan(plan: Plan, cfg: DictConfig, solver: ScheduleSolver | None = None,
               start: dict | None = None) -> SolveResult:
    """Solve with cfg.costs (the plan keeps its models; only the costs change)."""
    costs = Costs.from_cfg(cfg.costs)
    solver = solver or ScheduleSolver(cfg.solver, cfg.optimize.search)
    if isinstance(plan, DecomposedSchedule):
        return plan.solve(costs, solver)
    if plan.costs != costs:
        set_costs(plan, costs)
    return solver.solve(plan, start)


def optimize(plan: Plan, cfg: DictConfig, solver: ScheduleSolver | None = None, start: dict | None = None):
    """Solve with cfg.costs and verify; returns (table, metrics). Pass the same `solver` to
    re-solve with new costs through its persistent solvers, and a `start` schedule (the values
    of an earlier result, e.g. a neighbouring sweep point) as the first incumbent."""
    costs = Costs.from_cfg(cfg.costs)
    result = solve_plan(plan, cfg, solver, start)
    ver = verify(plan.instance, plan.network, result, costs, cfg.optimize)
    table = schedule_table(plan.instance, result.values, costs, ver)
    return table, metrics(plan, result, ver, costs)


def _model_metrics(plan: Plan, result: SolveResult) -> dict:
    if isinstance(plan, DecomposedSchedule):
        days = list(plan.days.values())
        return {"decomposition": {"days": len(plan.instance.days), "presses": plan.instance.presses,
                                  "day_models_built": len(days)},
                "sub_models": sum(len(d.submodels) for d in days),
                "total_binaries": sum(s.stats["binaries"] for d in days for s in d.submodels),
                "bound_tightening_seconds": plan.bound_seconds, "build_seconds": plan.build_seconds,
                "hour_value_cuts": bool(plan.shared[2]), "training_range_warnings": plan.warnings}
    best = plan.submodels[result.best]
    sizes = [s.stats for s in plan.submodels]
    return {"sub_models": len(plan.submodels), "best": best.label, "best_size": best.stats,
            "total_binaries": sum(s["binaries"] for s in sizes),
            "total_variables": sum(s["variables"] for s in sizes),
            "total_constraints": sum(s["constraints"] for s in sizes),
            "bound_tightening_seconds": plan.bound_seconds,
            "hour_value_cuts": bool(plan.hour_values), "cut_seconds": plan.cut_seconds,
            "build_seconds": plan.build_seconds,
            "unstable_neurons_per_copy": unstable_counts(plan),
            "training_range_warnings": plan.warnings}


def metrics(plan: Plan, result: SolveResult, ver, costs: Costs) -> dict:
    inst = plan.instance
    return {
        "objective": result.objective,
        **{k: v for k, v in ver.parts.items() if k != "profit"},
        "units": int(result.values["x"].sum()),
        "maintenance_count": result.values["N"].tolist(),
        "costs": vars(costs),
        "instance": {"hours": inst.hours, "presses": inst.presses, "demand": inst.demand},
        "solve": {"status": result.status, "optimal": result.status == "optimal", "seconds": result.seconds,
                  "nodes": result.nodes, "gap": result.gap, "bound": result.bound,
                  "time_limit_hit": result.time_limit_hit, "solver": result.solver, "polished": result.polished,
                  "incumbent_source": result.incumbent_source,
                  "sub_models": [vars(s) | {"stats": None} for s in result.subs]},
        "model": _model_metrics(plan, result),
        "sigmoid_error_bound": result.sigmoid_error_bound,
        "verification": ver.metrics(),
    }


def run_optimization(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Build, solve, verify and write schedule.csv, metrics.json and schedule.png to out_dir."""
    plan = prepare(cfg)
    table, result_metrics = optimize(plan, cfg)
    write_outputs(table, result_metrics, out_dir)
    return result_metrics
