"""A solution is loaded with the values a solver leaves just outside a bound put on the bound, so
re-solving from it (a sweep's next point, a decomposed day's chain) logs nothing."""
from __future__ import annotations

import logging

import pyomo.environ as pe
from pyomo.common.collections import ComponentMap
from omegaconf import OmegaConf

from pipeline.optimize.run import optimize, prepare
from pipeline.optimize.solve import ScheduleSolver, load_solution


class _Loader:
    def __init__(self, values):
        self.values = values

    def get_vars(self):
        return self.values


class _Result:
    def __init__(self, values):
        self.solution_loader = _Loader(values)


def test_values_within_tolerance_land_on_the_bound_and_others_stay_as_they_are():
    m = pe.ConcreteModel()
    m.h = pe.Var(bounds=(30.0, 65.0))
    m.t = pe.Var(bounds=(18.0, 30.0))
    m.x = pe.Var(bounds=(0.0, None))
    m.far = pe.Var(bounds=(30.0, 65.0))
    load_solution(_Result(ComponentMap([(m.h, 29.999999999999996), (m.t, 30.00000001), (m.x, 12.5), (m.far, 29.0)])))
    assert m.h.value == 30.0 and m.t.value == 30.0 and m.x.value == 12.5
    assert m.far.value == 29.0  # far outside is not a tolerance: left for the verification to see


def test_resolving_from_the_last_schedule_logs_no_bound_warnings(opt_cfg, caplog):
    cfg = opt_cfg(["optimize.horizon_hours=4"])
    plan = prepare(cfg)
    solver = ScheduleSolver(cfg.solver, cfg.optimize.search)
    with caplog.at_level(logging.WARNING, logger="pyomo"):
        table, first = optimize(plan, cfg, solver)
        from pipeline.optimize.outputs import start_from_table

        for scales in ({"humidity_scale": 1.5}, {"humidity_scale": 0.5}):
            point = OmegaConf.merge(cfg, {"costs": scales})
            table, _ = optimize(plan, point, solver, start=start_from_table(table))
    assert not [r for r in caplog.records if "outside the bounds" in r.getMessage()]
