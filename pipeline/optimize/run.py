"""The optimize stage as plain functions: load, build once, solve, verify, write.

`prepare(cfg)` builds the ScheduleModel once (network, prices, bounds, sub-models);
`optimize(schedule, cfg)` sets the costs and solves it (a sweep calls it again with other
costs, without rebuilding or re-tightening); `run_optimization(cfg, out_dir)` does both and
writes the outputs.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model, set_costs, unstable_counts
from pipeline.optimize.instance import build_instance, read_prices
from pipeline.optimize.network import load_fault_network
from pipeline.optimize.outputs import schedule_table, write_outputs
from pipeline.optimize.solve import ScheduleSolver
from pipeline.optimize.verify import verify

log = logging.getLogger(__name__)


def network_path(cfg: DictConfig) -> Path:
    return Path(cfg.paths.models) / str(cfg.optimize.network_file)


def prices_path(cfg: DictConfig) -> Path:
    return Path(cfg.paths.data) / str(cfg.optimize.prices_file)


def prepare(cfg: DictConfig) -> ScheduleModel:
    """Validate inputs and build the model once (the expensive, cost-independent part)."""
    start = time.perf_counter()
    prices = read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours))
    inst = build_instance(cfg, prices)
    net = load_fault_network(network_path(cfg))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schedule = build_schedule_model(inst, net, Costs.from_cfg(cfg.costs), cfg.optimize.formulation)
    for w in caught:
        log.warning("%s", w.message)
    schedule.build_seconds = time.perf_counter() - start
    return schedule


def optimize(schedule: ScheduleModel, cfg: DictConfig, solver: ScheduleSolver | None = None):
    """Solve with cfg.costs and verify; returns (table, metrics). Pass the same `solver` to
    re-solve a schedule with new costs through its persistent solvers."""
    costs = Costs.from_cfg(cfg.costs)
    set_costs(schedule, costs)
    solver = solver or ScheduleSolver(cfg.solver, cfg.optimize.search)
    result = solver.solve(schedule)
    ver = verify(schedule, result, costs, cfg.optimize)
    table = schedule_table(schedule, result.values, costs, ver)
    return table, metrics(schedule, result, ver, costs)


def metrics(schedule: ScheduleModel, result, ver, costs: Costs) -> dict:
    best = schedule.submodels[result.best]
    sizes = [s.stats for s in schedule.submodels]
    inst = schedule.instance
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
                  "sub_models": [vars(s) | {"stats": None} for s in result.subs]},
        "model": {"sub_models": len(schedule.submodels), "best": best.label, "best_size": best.stats,
                  "total_binaries": sum(s["binaries"] for s in sizes),
                  "total_variables": sum(s["variables"] for s in sizes),
                  "total_constraints": sum(s["constraints"] for s in sizes),
                  "bound_tightening_seconds": schedule.bound_seconds,
                  "build_seconds": schedule.build_seconds,
                  "unstable_neurons_per_copy": unstable_counts(schedule),
                  "training_range_warnings": schedule.warnings},
        "sigmoid_error_bound": max(e.sigmoid.error_bound for e in best.encodings.values()),
        "verification": ver.metrics(),
    }


def run_optimization(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Build, solve, verify and write schedule.csv, metrics.json and schedule.png to out_dir."""
    schedule = prepare(cfg)
    table, result_metrics = optimize(schedule, cfg)
    write_outputs(table, result_metrics, out_dir)
    return result_metrics
