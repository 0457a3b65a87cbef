"""The search: LP bounds prune soundly, a start schedule never makes the answer worse, a re-solve
with new costs from a neighbour's schedule equals a fresh solve, and the hour-value cuts are
valid (no (T, H) earns more than their exact maxima)."""
from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from pipeline.optimize.costs import Costs
from pipeline.optimize.formulation import ensure_cuts
from pipeline.optimize.hour_values import HourValues
from pipeline.optimize.outputs import start_from_table
from pipeline.optimize.run import optimize, prepare
from pipeline.optimize.solve import ScheduleSolver


@pytest.fixture
def cfg(opt_cfg):
    return opt_cfg(["optimize.horizon_hours=4"])


def test_lp_bounds_bound_each_sub_model_and_pruning_keeps_the_optimum(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=4", "optimize.search.day_dp=false"])  # the LP bounds alone
    plan = prepare(cfg)
    _, pruned = optimize(plan, cfg)
    full = OmegaConf.merge(cfg, {"optimize": {"search": {"prune": False}}})
    _, every = optimize(plan, full, ScheduleSolver(full.solver, full.optimize.search))
    assert every["solve"]["status"] == pruned["solve"]["status"] == "optimal"
    assert pruned["objective"] == pytest.approx(every["objective"], rel=2e-4)
    for sub in every["solve"]["sub_models"]:  # the LP bound holds every sub-model's optimum
        if sub["objective"] is not None:
            assert sub["lp_bound"] >= sub["objective"] - 1e-6 * abs(sub["objective"])
    assert any(s["status"] == "pruned_by_lp_bound" for s in pruned["solve"]["sub_models"])


def test_resolving_from_a_neighbours_schedule_equals_a_fresh_solve(cfg):
    plan = prepare(cfg)
    solver = ScheduleSolver(cfg.solver, cfg.optimize.search)
    last, sources = None, []
    for scales in ({"maintenance_scale": 0.5}, {"temperature_scale": 1.5}, {}):
        point = OmegaConf.merge(cfg, {"costs": scales})
        table, warm = optimize(plan, point, solver, start=last)
        _, fresh = optimize(prepare(point), point)
        assert warm["solve"]["status"] == fresh["solve"]["status"] == "optimal"
        assert warm["objective"] == pytest.approx(fresh["objective"], rel=2e-4), scales
        assert warm["verification"]["passed"]
        last = start_from_table(table)
        sources.append(warm["solve"]["incumbent_source"])
    assert "start" in sources  # the neighbour's schedule was the incumbent somewhere


def test_a_worse_start_never_replaces_a_better_schedule(cfg):
    plan = prepare(cfg)
    table, best = optimize(plan, cfg)
    start = start_from_table(table)
    start["H"] = np.full_like(start["H"], cfg.optimize.humidity_pct.max)  # a feasible, poor schedule
    _, again = optimize(plan, cfg, start=start)
    assert again["objective"] == pytest.approx(best["objective"], rel=2e-4)


@pytest.mark.parametrize("kind", ["fitted", "random"])
def test_hour_value_maxima_are_never_beaten_on_a_grid(cfg, tmp_path, kind):
    from pipeline.core.config import load_params
    from tests.optimize.example_network import build
    from pipeline.optimize.network import load_fault_network

    path = build(tmp_path / f"{kind}.onnx", load_params().data.fault, kind, seed=3, n_samples=3000, steps=200)
    cfg = OmegaConf.merge(cfg, {"paths": {"models": str(tmp_path)}, "optimize": {"network_file": path.name}})
    plan = prepare(cfg)
    inst, costs = plan.instance, Costs.from_cfg(cfg.costs)
    (press,) = inst.rows
    T = np.linspace(*inst.temperature_box, 241)
    H = np.linspace(*inst.humidity_box, 281)
    tt, hh = np.meshgrid(T, H, indexing="ij")
    assert set(plan.hour_values) == {key for sub in plan.submodels for key in sub.encodings}  # one per (kind, N)
    for sub in plan.submodels:
        (key, enc), = sub.encodings.items()
        ensure_cuts(plan, sub)  # the hour values a solve would build (formulation.ensure_cuts)
        values = plan.hour_values[key]
        assert isinstance(values, HourValues)
        pwl = enc.sigmoid(enc.folded.logit(np.column_stack([tt.ravel(), hh.ravel()]))).reshape(tt.shape)
        for t in range(inst.hours):
            usd = inst.price[t] * inst.usd_per_kwh_per_usd_per_mwh
            X = press.max_per_hour
            gain = (X * (costs.revenue - usd * press.machine_kwh_per_unit) - X * (costs.revenue + costs.penalty) * pwl
                    - usd * costs.temperature_kwh * np.abs(inst.outside_temperature[t] - tt))
            maxima = values.strip_maxima(inst, press, 1.0, costs, t)
            for j, (lo, hi) in enumerate(zip(values.strips[:-1], values.strips[1:])):
                grid = gain[:, (H >= lo) & (H <= hi)].max()
                assert grid <= maxima[j] + 1e-9, (key, t, j)
                assert maxima[j] - grid < 25.0  # exact, not loose: within the grid's resolution


@pytest.mark.parametrize("spoil,message", [
    (lambda v: v["x"].__setitem__((0, 0), 0) or v["x"].__setitem__((0, slice(None)), 0), "demand"),
    (lambda v: v["b"].__setitem__((0, slice(None)), 0), "maintenance"),
    (lambda v: v["H"].__setitem__(0, 99.0), "outside"),
])
def test_verification_checks_every_constraint_on_the_schedule_itself(cfg, spoil, message):
    from pipeline.optimize.verify import VerificationError, check_feasible

    plan = prepare(cfg)
    table, _ = optimize(plan, cfg)
    values = {k: np.array(v) for k, v in start_from_table(table).items()}
    check_feasible(plan.plant, values)  # the plant's instance: rooms, presses by name
    spoil(values)
    with pytest.raises(VerificationError, match=message):
        check_feasible(plan.plant, values)
