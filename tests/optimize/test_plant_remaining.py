"""A re-plan of a plant (PlantInstance.remaining solved by the decomposition) with two presses of one
kind that made different maintenances before it: each keeps its own count (a regression: they ran
one plan, the first one's count, and the verification refused the schedule)."""
from __future__ import annotations

import yaml

from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import PlantSchedule
from pipeline.optimize.instance import build_plant_instance, read_prices
from pipeline.optimize.plant import load_plant
from pipeline.optimize.run import load_networks, prices_path, runner_for
from pipeline.optimize.solve import ScheduleSolver
from pipeline.optimize.verify import verify


def test_presses_of_one_kind_with_different_maintenances_done_keep_their_counts(opt_cfg, tmp_path):
    plant = tmp_path / "plant.yaml"
    plant.write_text(yaml.safe_dump({"rooms": [{"name": "r", "presses": [{"name": "P", "count": 2}]}]}))
    cfg = opt_cfg([f"optimize.plant_file={plant}", "optimize.horizon_hours=4", "optimize.parallel=none",
                   "optimize.production.demand_per_day=600", "solver.time_limit_s=30"])
    day = build_plant_instance(cfg, read_prices(prices_path(cfg), 4), load_plant(cfg))
    inst = day.remaining(1, None, 60, {"P#1": 1})
    networks = load_networks(inst, float(cfg.optimize.max_abs_weight))
    costs = Costs.from_cfg(cfg.costs)
    schedule = PlantSchedule.build(inst, networks, costs, cfg.optimize.formulation, runner_for(cfg, networks))
    result = schedule.solve(costs, ScheduleSolver(cfg.solver, cfg.optimize.search))
    verify(inst, networks, result, costs, cfg.optimize)  # raises where a count disagrees with its maintenances
    assert (result.values["N"][:, 0] == result.values["b"].sum(axis=1) + [1, 0]).all()
