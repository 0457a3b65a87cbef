"""The day/press decomposition against brute force and against the one-model formulation on
small instances: its schedule is feasible and verified, its bound is valid, its gap honest."""
from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import DecomposedSchedule
from pipeline.optimize.formulation import build_schedule_model
from pipeline.optimize.instance import build_instance, read_prices
from pipeline.optimize.network import load_fault_network
from pipeline.optimize.run import prices_path
from pipeline.optimize.sigmoid import sigmoid
from pipeline.optimize.solve import ScheduleSolver
from pipeline.optimize.verify import verify


def _setup(cfg, days: list[list[int]] | None = None):
    inst = build_instance(cfg, read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours)))
    if days is not None:  # day blocks of any length: the decomposition only needs the blocks
        blocks = [np.array(d) for d in days]
        demand = [int(np.ceil(cfg.optimize.production.demand_per_day * len(b) / 24)) for b in blocks]
        inst = replace(inst, days=blocks, demand=demand, demand_blocks=None)
    net = load_fault_network(Path(cfg.paths.models) / cfg.optimize.network_file)
    return inst, net, Costs.from_cfg(cfg.costs)


def _brute_force(inst, net, costs, cfg) -> float:
    """Every maintenance pattern, x_t, T_t (0.25 C), H_t (1 %RH) of a horizon of one-hour days,
    with the true sigmoid: a lower bound on the optimum (the grid is a subset of the decisions)."""
    o = cfg.optimize
    T = np.arange(o.temperature_C.min, o.temperature_C.max + 1e-9, 0.25)
    H = np.arange(o.humidity_pct.min, o.humidity_pct.max + 1e-9, 1.0)
    usd = inst.price * inst.usd_per_kwh_per_usd_per_mwh
    best = -np.inf
    for b in itertools.product(range(inst.required_maintenance, 2), repeat=inst.hours):
        hour_values = []
        for t in range(inst.hours):
            tt, hh = np.meshgrid(T, H, indexing="ij")
            raw = np.column_stack([np.full(tt.size, inst.fixed["pressure_kN"]), tt.ravel(),
                                   np.full(tt.size, inst.fixed["speed_rpm"]), np.full(tt.size, inst.fixed["vibration_mm_s"]),
                                   hh.ravel(), np.full(tt.size, b[t])])
            p = sigmoid(net.logit(raw)).reshape(len(T), len(H))
            cap = inst.max_per_hour if not b[t] else inst.capacity_in_maintenance_hour
            x = np.arange(inst.demand[t], cap + 1)  # one-hour days: each hour meets its day's demand
            if not len(x):
                break  # this maintenance pattern cannot meet the demand
            temp = usd[t] * costs.temperature_kwh * np.abs(inst.outside_temperature[t] - T)
            v = (x[:, None, None] * (costs.revenue - (costs.revenue + costs.penalty) * p[None]
                                     - usd[t] * inst.machine_kwh_per_unit) - temp[None, :, None])
            hour_values.append(v.max(axis=(0, 1)) - costs.maintenance * b[t])  # best x and T per H
        if len(hour_values) < inst.hours:
            continue
        for path in itertools.product(range(len(H)), repeat=inst.hours):
            hum = np.abs(np.diff(np.concatenate([[inst.humidity_initial], H[list(path)]])))
            total = sum(hour_values[t][path[t]] for t in range(inst.hours)) - float(np.sum(usd * costs.humidity_kwh * hum))
            best = max(best, total)
    return best


def test_two_one_hour_days_match_brute_force(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=2", "optimize.maintenance.required_per_day=0",
                   "optimize.humidity_pct.initial=30.0", "optimize.humidity_pct.max=36.0"])
    inst, net, costs = _setup(cfg, days=[[0], [1]])
    plan = DecomposedSchedule.build(inst, net, costs, cfg.optimize.formulation)
    result = plan.solve(costs, ScheduleSolver(cfg.solver, cfg.optimize.search))
    ver = verify(inst, net, result, costs, cfg.optimize)   # raises if the schedule disagrees
    grid = _brute_force(inst, net, costs, cfg)
    slack = result.sigmoid_error_bound * 300 * result.values["x"].sum() + 1e-4 * abs(grid)
    assert result.bound >= result.objective >= grid - 1e-6      # the MILP's p under-estimates
    assert ver.objective_true >= grid - slack                     # optimal over the continuum
    assert ver.objective_true <= grid + 0.01 * abs(grid)          # and the grid comes close to it
    assert result.gap <= 1e-4


def test_two_presses_match_the_one_model_formulation(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=3", "optimize.presses=2", "optimize.production.demand_per_day=900"])
    inst, net, costs = _setup(cfg)
    decomposed = DecomposedSchedule.build(inst, net, costs, cfg.optimize.formulation).solve(
        costs, ScheduleSolver(cfg.solver, cfg.optimize.search))
    whole = build_schedule_model(inst, net, costs, cfg.optimize.formulation)
    one = ScheduleSolver(cfg.solver, cfg.optimize.search).solve(whole)
    # the two formulations use their own sigmoid pieces (their logit ranges differ): compare
    # each one's bound with the other's schedule valued with the true sigmoid (onnxruntime)
    true_decomposed = verify(inst, net, decomposed, costs, cfg.optimize).objective_true
    true_one = verify(inst, net, one, costs, cfg.optimize).objective_true
    assert decomposed.bound >= true_one - 1e-6 * abs(true_one)   # the global bound holds every schedule
    assert one.bound >= true_decomposed - 1e-6 * abs(true_one)   # and the decomposed schedule is feasible
    assert true_decomposed == pytest.approx(true_one, rel=5e-4)
    assert (decomposed.values["x"][0] == decomposed.values["x"][1]).all()  # identical presses


def test_days_chained_by_humidity_and_demand_over_the_horizon(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=4", "optimize.production.demand_scope=horizon"])
    inst, net, costs = _setup(cfg)  # 100 units over 4 hours, 108 at most: the demand binds
    inst = replace(inst, days=[np.arange(2), np.arange(2, 4)], demand_blocks=[np.arange(4)])
    decomposed = DecomposedSchedule.build(inst, net, costs, cfg.optimize.formulation).solve(
        costs, ScheduleSolver(cfg.solver, cfg.optimize.search))
    true_decomposed = verify(inst, net, decomposed, costs, cfg.optimize).objective_true
    assert decomposed.values["x"].sum() >= inst.demand[0]
    whole = ScheduleSolver(cfg.solver, cfg.optimize.search).solve(build_schedule_model(inst, net, costs, cfg.optimize.formulation))
    true_whole = verify(inst, net, whole, costs, cfg.optimize).objective_true
    assert decomposed.bound >= true_whole - 1e-6 * abs(true_whole)
    assert whole.bound >= true_decomposed - 1e-6 * abs(true_whole)


def test_the_time_limit_message_says_how_it_was_applied(opt_cfg, monkeypatch):
    """Issue 21: a limit too short for a long horizon named the day's share as if it were
    solver.time_limit_s. The message says which day, its share and the whole horizon's limit.
    (The shares are set to nothing here, so that no machine is fast enough to find a schedule.)"""
    from omegaconf import OmegaConf

    from pipeline.optimize.solve import NoScheduleFoundError

    cfg = opt_cfg(["optimize.horizon_hours=4", "solver.time_limit_s=0.01"])
    inst, net, costs = _setup(cfg, days=[[0, 1], [2, 3]])
    plan = DecomposedSchedule.build(inst, net, costs, cfg.optimize.formulation)
    monkeypatch.setattr(DecomposedSchedule, "_share", lambda self, start, limit, parts_left: 0.0)
    with pytest.raises(NoScheduleFoundError, match=r"within 0 s \(day 1 of 2: its share of "
                                                   r"solver.time_limit_s = 0.01 s for the whole horizon"):
        plan.solve(costs, ScheduleSolver(cfg.solver, cfg.optimize.search))
    no_time = OmegaConf.merge(cfg.solver, {"time_limit_s": 0.0})
    with pytest.raises(NoScheduleFoundError, match=r"within 0 s \(solver.time_limit_s, for the whole horizon\)"):
        ScheduleSolver(no_time, cfg.optimize.search).solve(plan.day_model(0, costs))
