"""The optimize stage as plain functions: load, build once, solve, verify, write.

`prepare(cfg)` builds the plan once (plant, networks, prices, bounds, sub-models): one
ScheduleModel for one press and one day, a PlantSchedule (day problems with a global bound) for more;
`optimize(plan, cfg)` sets the costs and solves it (a sweep calls it again with other costs,
without rebuilding or re-tightening); `run_optimization(cfg, out_dir)` does both and writes
the outputs.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import numpy as np

from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import PlantSchedule
from pipeline.optimize.encodings.base import free_box
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model, set_costs, unstable_counts
from pipeline.optimize.instance import PlantInstance, build_plant_instance, read_prices
from pipeline.optimize.network import FaultNetwork, load_fault_network
from pipeline.optimize.outputs import schedule_table, write_outputs
from pipeline.optimize.plant import load_plant
from pipeline.optimize.solve import ScheduleSolver, SolveResult
from pipeline.optimize.subproblems import Runner, context
from pipeline.optimize.verify import verify

log = logging.getLogger(__name__)

Plan = ScheduleModel | PlantSchedule


def network_path(cfg: DictConfig) -> Path:
    return Path(cfg.paths.models) / str(cfg.optimize.network_file)


def prices_path(cfg: DictConfig) -> Path:
    return Path(cfg.paths.data) / str(cfg.optimize.prices_file)


def decomposes(inst: PlantInstance, cfg: DictConfig) -> bool:
    """optimize.decomposition (one of pipeline/core/settings/optimize.DECOMPOSITION): auto decomposes
    several days or presses; none never does (one room only: a plant of several rooms is refused)."""
    mode = str(cfg.optimize.get("decomposition", "auto"))
    if mode == "none" and len(inst.plant.rooms) > 1:
        raise ValueError(f"optimize.decomposition=none solves one room as one model; the plant has "
                         f"{len(inst.plant.rooms)} rooms: use decomposition=auto")
    return mode == "auto" and (len(inst.machines) > 1 or len(inst.days) > 1)


def load_networks(inst: PlantInstance, max_abs_weight: float | None) -> dict[Path, FaultNetwork]:
    """Every press's network, each file read and checked once (weights within +-max_abs_weight,
    optimize.max_abs_weight: a plant file's foreign network is refused like optimize.network_file)."""
    return {path: load_fault_network(path, max_abs_weight) for path in inst.plant.networks}


def runner_for(cfg: DictConfig, networks: dict) -> Runner:
    """Where the decomposition's day problems run (optimize.parallel, optimize.workers)."""
    opt = cfg.optimize
    return Runner(context(networks, opt.formulation, cfg.solver, opt.search), str(opt.get("parallel", "none")),
                  int(opt.get("workers", 1)), opt.get("ray_address"))


def prepare(cfg: DictConfig) -> Plan:
    """Validate inputs and build the model once (the expensive, cost-independent part)."""
    start = time.perf_counter()
    plant = load_plant(cfg)
    prices = read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours))
    inst = build_plant_instance(cfg, prices, plant)
    networks = load_networks(inst, float(cfg.optimize.max_abs_weight))
    costs = Costs.from_cfg(cfg.costs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if decomposes(inst, cfg):
            plan = PlantSchedule.build(inst, networks, costs, cfg.optimize.formulation, runner_for(cfg, networks))
        else:
            plan = build_schedule_model(inst.room_instance(0), networks, costs, cfg.optimize.formulation)
            plan.plant = inst
        plan.warnings = training_range_warnings(inst, networks, float(cfg.optimize.training_range_tolerance))
    for w in caught:
        log.warning("%s", w.message)
    plan.build_seconds = time.perf_counter() - start
    return plan


def training_range_warnings(inst: PlantInstance, networks: dict, tolerance: float) -> list[str]:
    """Each press's box against its network's training range (network.check_box), once per kind."""
    found = []
    for r, room in enumerate(inst.plant.rooms):
        one = inst.room_instance(r)
        for press in one.kinds:
            found += [m for m in networks[press.network_file].check_box(free_box(one, press), tolerance) if m not in found]
    return found


def solve_plan(plan: Plan, cfg: DictConfig, solver: ScheduleSolver | None = None,
               start: dict | None = None) -> SolveResult:
    """Solve with cfg.costs (the plan keeps its models; only the costs change)."""
    costs = Costs.from_cfg(cfg.costs)
    solver = solver or ScheduleSolver(cfg.solver, cfg.optimize.search)
    if isinstance(plan, PlantSchedule):
        return plan.solve(costs, solver)
    if plan.costs != costs:
        set_costs(plan, costs)
    return solver.solve(plan, start)


def plant_values(values: dict) -> dict:
    """A one-room model's values with the room's setpoints as [rooms, hours] (the plant's shape)."""
    out = dict(values)
    for key in ("T", "H", "eT", "eH"):
        out[key] = np.atleast_2d(values[key])
    return out


def optimize(plan: Plan, cfg: DictConfig, solver: ScheduleSolver | None = None, start: dict | None = None):
    """Solve with cfg.costs and verify; returns (table, metrics). Pass the same `solver` to
    re-solve with new costs through its persistent solvers, and a `start` schedule (the values
    of an earlier result, e.g. a neighbouring sweep point) as the first incumbent."""
    costs = Costs.from_cfg(cfg.costs)
    result = solve_plan(plan, cfg, solver, start)
    result.values = plant_values(result.values)
    ver = verify(plan.plant, plan.networks, result, costs, cfg.optimize)
    table = schedule_table(plan.plant, result.values, costs, ver)
    return table, metrics(plan, result, ver, costs)


def _model_metrics(plan: Plan, result: SolveResult) -> dict:
    if isinstance(plan, PlantSchedule):
        return {"decomposition": plan.report, "bound_tightening_seconds": plan.bound_seconds,
                "build_seconds": plan.build_seconds, "hour_value_cuts": bool(plan.options.hour_value_cuts),
                "total_binaries": None, "training_range_warnings": plan.warnings}
    best = plan.submodels[result.best]
    sizes = [s.stats for s in plan.submodels if s.built]  # a sub-model the DP or a bound settled was never built
    return {"sub_models": len(plan.submodels), "built_sub_models": len(sizes), "best": best.label,
            "best_size": best.stats, "total_binaries": sum(s["binaries"] for s in sizes),
            "total_variables": sum(s["variables"] for s in sizes),
            "total_constraints": sum(s["constraints"] for s in sizes),
            "bound_tightening_seconds": plan.bound_seconds,
            "hour_value_cuts": bool(plan.hour_values), "cut_seconds": plan.cut_seconds,
            "build_seconds": plan.build_seconds,
            "unstable_neurons_per_copy": unstable_counts(plan),
            "training_range_warnings": plan.warnings}


def metrics(plan: Plan, result: SolveResult, ver, costs: Costs) -> dict:
    inst = plan.plant
    return {
        "objective": result.objective,
        **{k: v for k, v in ver.parts.items() if k != "profit"},
        "units": int(result.values["x"].sum()),
        "maintenance_count": result.values["N"].tolist(),
        "costs": vars(costs),
        "instance": {"hours": inst.hours, "presses": len(inst.machines), "demand": inst.demand,
                     "rooms": [room.name for room in inst.plant.rooms], "press_names": inst.machine_names},
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
