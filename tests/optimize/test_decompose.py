"""The plant decomposition against brute force and against the one-model formulation on small
instances: its schedule is feasible and verified (every press through its own network), its
bound is valid, its gap honest; identical sub-problems are solved once; processes change nothing."""
from __future__ import annotations

import hashlib
import itertools
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import PlantSchedule
from pipeline.optimize.formulation import build_schedule_model
from pipeline.optimize.instance import build_plant_instance, read_prices
from pipeline.optimize.plant import load_plant
from pipeline.optimize.run import load_networks, plant_values, prices_path, runner_for
from pipeline.optimize.sigmoid import sigmoid
from pipeline.optimize.solve import ScheduleSolver
from pipeline.optimize.verify import verify


def _setup(cfg, days: list[list[int]] | None = None):
    inst = build_plant_instance(cfg, read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours)), load_plant(cfg))
    if days is not None:  # day blocks of any length: the decomposition only needs the blocks
        blocks = [np.array(d) for d in days]
        demand = [int(np.ceil(cfg.optimize.production.demand_per_day * len(b) / 24)) for b in blocks]
        inst = replace(inst, days=blocks, demand=demand, demand_blocks=blocks,
                       maintenance_done=np.zeros((len(inst.machines), len(blocks)), dtype=int))
    return inst, load_networks(inst, float(cfg.optimize.max_abs_weight)), Costs.from_cfg(cfg.costs)


def _decomposed(cfg, inst, nets, costs):
    plan = PlantSchedule.build(inst, nets, costs, cfg.optimize.formulation, runner_for(cfg, nets))
    result = plan.solve(costs, ScheduleSolver(cfg.solver, cfg.optimize.search))
    return plan, result


# Knobs of the decomposition only: the one-model MILP reads none of them.
DECOMPOSITION_ONLY = ("room_temperature", "room_demand_price", "demand_split", "demand_split_cells")
# The hard room's one-model MILP (HETERO, 3 h: about 40 s) is the reference of three tests; they
# share a process (`ONE_MODEL_SHARED`), which solves it once.
ONE_MODEL_SHARED = pytest.mark.xdist_group("hetero_one_model")
_SOLVED: dict[str, bytes] = {}
# A reference is solved to its proof, not cut at the stage's minute: at load 4 in CI the hard
# room's MILP ran past 60 s, and a time-limited reference failed a test that needs it proven.
REFERENCE_LIMIT_S = 600.0


def _one_model(cfg, inst, nets, costs):
    """The room as one MILP (every press a row, N a variable), valued like the decomposition;
    solved once per process for the same room, networks, costs, formulation and solver."""
    room = inst.room_instance(0)
    formulation = {k: v for k, v in OmegaConf.to_container(cfg.optimize.formulation).items() if k not in DECOMPOSITION_ONLY}
    by_content = replace(room, rows=tuple(replace(r, network_file=hashlib.sha256(Path(r.network_file).read_bytes()).hexdigest())
                                          for r in room.rows))  # each test its own copy of the network file
    key = hashlib.sha256(pickle.dumps((by_content, costs, float(cfg.optimize.max_abs_weight), formulation,
                                       OmegaConf.to_container(cfg.solver), OmegaConf.to_container(cfg.optimize.search)))).hexdigest()
    if key not in _SOLVED:
        whole = build_schedule_model(room, nets, costs, cfg.optimize.formulation)
        solver = OmegaConf.merge(cfg.solver, {"time_limit_s": max(float(cfg.solver.time_limit_s), REFERENCE_LIMIT_S)})
        result = ScheduleSolver(solver, cfg.optimize.search).solve(whole)
        result.values = plant_values(result.values)
        _SOLVED[key] = pickle.dumps(result)
    return pickle.loads(_SOLVED[key])  # a fresh copy: a test may change what it gets


def _hour_values(inst, net, costs, cfg, press, t: int, b: int, T, H):
    """Best value of one press in one hour for every x (rows) and H (columns), T at its best."""
    o = cfg.optimize
    usd = inst.price[t] * inst.usd_per_kwh_per_usd_per_mwh
    tt, hh = np.meshgrid(T, H, indexing="ij")
    raw = np.column_stack([np.full(tt.size, press.fixed_inputs["pressure_kN"]), tt.ravel(),
                           np.full(tt.size, press.fixed_inputs["speed_rpm"]),
                           np.full(tt.size, press.fixed_inputs["vibration_mm_s"]), hh.ravel(), np.full(tt.size, b)])
    p = sigmoid(net.logit(raw)).reshape(len(T), len(H))
    cap = press.max_per_hour if not b else press.capacity_in_maintenance_hour
    x = np.arange(cap + 1)
    temp = usd * costs.temperature_kwh * np.abs(inst.outside_temperature[t] - T)
    v = (x[:, None, None] * (costs.revenue - (costs.revenue + costs.penalty) * p[None]
                             - usd * press.machine_kwh_per_unit) - temp[None, :, None])
    del o
    return v.max(axis=1) - costs.maintenance * b  # [x, H]


def _brute_force(inst, nets, costs, cfg) -> float:
    """One press, one-hour days: every maintenance pattern, x_t, T_t (0.25 C), H_t (1 %RH), with
    the true sigmoid: a lower bound on the optimum (the grid is a subset of the decisions)."""
    o = cfg.optimize
    T = np.arange(o.temperature_C.min, o.temperature_C.max + 1e-9, 0.25)
    H = np.arange(o.humidity_pct.min, o.humidity_pct.max + 1e-9, 1.0)
    press = inst.machines[0][1]
    net = nets[press.network_file]
    usd = inst.price * inst.usd_per_kwh_per_usd_per_mwh
    best = -np.inf
    for b in itertools.product(range(press.required_maintenance, 2), repeat=inst.hours):
        values = [_hour_values(inst, net, costs, cfg, press, t, b[t], T, H) for t in range(inst.hours)]
        # one-hour days: each hour meets its own day's demand
        hour_best = [v[inst.demand[t]:].max(axis=0) if inst.demand[t] < len(v) else None for t, v in enumerate(values)]
        if any(h is None for h in hour_best):
            continue
        for path in itertools.product(range(len(H)), repeat=inst.hours):
            hum = np.abs(np.diff(np.concatenate([[inst.humidity_initial[0]], H[list(path)]])))
            total = sum(hour_best[t][path[t]] for t in range(inst.hours)) - float(np.sum(usd * costs.humidity_kwh * hum))
            best = max(best, total)
    return best


def test_two_one_hour_days_match_brute_force(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=2", "optimize.maintenance.required_per_day=0",
                   "optimize.humidity_pct.initial=30.0", "optimize.humidity_pct.max=36.0"])
    inst, nets, costs = _setup(cfg, days=[[0], [1]])
    _, result = _decomposed(cfg, inst, nets, costs)
    ver = verify(inst, nets, result, costs, cfg.optimize)   # raises if the schedule disagrees
    grid = _brute_force(inst, nets, costs, cfg)
    slack = result.sigmoid_error_bound * 300 * result.values["x"].sum() + 1e-4 * abs(grid)
    assert result.bound >= result.objective >= grid - 1e-6      # the MILP's p under-estimates
    assert ver.objective_true >= grid - slack                     # optimal over the continuum
    assert ver.objective_true <= grid + 0.01 * abs(grid)          # and the grid comes close to it
    assert result.gap <= 1e-4


@pytest.mark.slow  # the one-model MILP of two presses: about 20 s on an idle machine
def test_two_presses_match_the_one_model_formulation(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=3", "optimize.presses=2", "optimize.production.demand_per_day=900"])
    inst, nets, costs = _setup(cfg)
    plan, decomposed = _decomposed(cfg, inst, nets, costs)
    one = _one_model(cfg, inst, nets, costs)
    # the two formulations use their own sigmoid pieces (their logit ranges differ): compare
    # each one's bound with the other's schedule valued with the true sigmoid (onnxruntime)
    true_decomposed = verify(inst, nets, decomposed, costs, cfg.optimize).objective_true
    true_one = verify(inst, nets, one, costs, cfg.optimize).objective_true
    assert decomposed.bound >= true_one - 1e-6 * abs(true_one)   # the global bound holds every schedule
    assert one.bound >= true_decomposed - 1e-6 * abs(true_one)   # and the decomposed schedule is feasible
    assert true_decomposed == pytest.approx(true_one, rel=5e-4)
    assert plan.report["groups"] == 1                           # identical presses: one sub-problem type


HETERO = {"rooms": [{"name": "A", "presses": [
    {"name": "old", "fixed_inputs": {"pressure_kN": 66.0, "speed_rpm": 700.0, "vibration_mm_s": 0.45},
     "max_per_hour": 30},
    {"name": "new", "fixed_inputs": {"pressure_kN": 58.0, "speed_rpm": 800.0, "vibration_mm_s": 0.2},
     "max_per_hour": 40, "energy_kwh_per_unit": 1300.0}]}]}


@ONE_MODEL_SHARED
@pytest.mark.slow  # the hard case's one-model MILP: about 50 s on an idle machine
def test_different_presses_in_one_room_hold_against_the_one_model_formulation(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=3", "optimize.production.demand_per_day=1000"])
    cfg = OmegaConf.merge(cfg, {"optimize": {"plant": HETERO}})
    inst, nets, costs = _setup(cfg)
    plan, decomposed = _decomposed(cfg, inst, nets, costs)
    assert plan.report["groups"] == 2
    one = _one_model(cfg, inst, nets, costs)
    ver = verify(inst, nets, decomposed, costs, cfg.optimize)     # one room: shared T, H; demand met
    true_one = verify(inst, nets, one, costs, cfg.optimize).objective_true
    assert decomposed.bound >= true_one - 1e-6 * abs(true_one)    # the bound holds the room's optimum
    assert one.bound >= ver.objective_true - 1e-6 * abs(true_one)  # and the schedule is feasible for it
    assert decomposed.objective >= 0.9 * one.objective             # and near it (3 hours, binding demand: the hard case)
    assert decomposed.values["x"][:, :].sum() >= inst.demand[0]


def test_rooms_share_only_the_demand_and_identical_ones_are_solved_once(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=3", "optimize.production.demand_per_day=1200"])
    twin = {"rooms": [{"name": "east", "presses": [{"name": "E"}]}, {"name": "west", "presses": [{"name": "W"}]}]}
    cfg = OmegaConf.merge(cfg, {"optimize": {"plant": twin}})
    inst, nets, costs = _setup(cfg)
    plan, result = _decomposed(cfg, inst, nets, costs)
    verify(inst, nets, result, costs, cfg.optimize)
    assert plan.report["groups"] == 1 and plan.report["units"] == 2
    assert plan.report["sub_problems_solved"] < plan.report["sub_problems_requested"]  # the twin room reuses
    np.testing.assert_allclose(result.values["T"][0], result.values["T"][1])  # same room, same plan


@pytest.mark.slow  # two decompositions, one on joblib workers: about 20 s on an idle machine
def test_processes_give_the_same_schedule(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=3", "optimize.production.demand_per_day=1000", "optimize.parallel=none"])
    cfg = OmegaConf.merge(cfg, {"optimize": {"plant": HETERO}})
    inst, nets, costs = _setup(cfg)
    _, serial = _decomposed(cfg, inst, nets, costs)
    parallel = OmegaConf.merge(cfg, {"optimize": {"parallel": "joblib", "workers": 2}})
    _, joblib = _decomposed(parallel, inst, nets, costs)
    assert joblib.objective == pytest.approx(serial.objective, rel=1e-9)
    assert joblib.bound == pytest.approx(serial.bound, rel=1e-9)


def test_days_chained_by_humidity_and_demand_over_the_horizon(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=4", "optimize.production.demand_scope=horizon"])
    inst, nets, costs = _setup(cfg)  # 100 units over 4 hours, 108 at most: the demand binds
    inst = replace(inst, days=[np.arange(2), np.arange(2, 4)], maintenance_done=np.zeros((1, 2), dtype=int))
    _, decomposed = _decomposed(cfg, inst, nets, costs)
    true_decomposed = verify(inst, nets, decomposed, costs, cfg.optimize).objective_true
    assert decomposed.values["x"].sum() >= inst.demand[0]
    whole = _one_model(cfg, inst, nets, costs)
    true_whole = verify(inst, nets, whole, costs, cfg.optimize).objective_true
    assert decomposed.bound >= true_whole - 1e-6 * abs(true_whole)
    assert whole.bound >= true_decomposed - 1e-6 * abs(true_whole)


def test_the_time_limit_message_says_how_it_was_applied(opt_cfg):
    """Issue 21: a limit too short for a long horizon named the day's share as if it were
    solver.time_limit_s. A day problem's solver names its limit as applied (which day, its share
    of the whole horizon's limit); a day with no schedule is logged with that line and planned
    otherwise by the decomposition. (No time at all here, so no machine is fast enough.)"""
    from omegaconf import OmegaConf

    from pipeline.optimize.solve import NoScheduleFoundError
    from pipeline.optimize.subproblems import _solver

    cfg = opt_cfg(["optimize.horizon_hours=4", "solver.time_limit_s=0.01"])
    inst, nets, costs = _setup(cfg, days=[[0, 1], [2, 3]])
    plan = PlantSchedule.build(inst, nets, costs, cfg.optimize.formulation, runner_for(cfg, nets))
    plan._total = 0.01
    task = plan._task(0, 0, costs, 0.0)
    assert task.limit_note.startswith("day 1 of 2: its share of solver.time_limit_s = 0.01 s for the whole horizon")
    assert task.key == plan._task(0, 0, costs, 5.0).key  # the note and the limit are not the problem
    solver = _solver(plan.runner.ctx, task.time_limit, task.limit_note)
    assert solver.limit_applied == task.limit_note
    no_time = OmegaConf.merge(cfg.solver, {"time_limit_s": 0.0})
    one_day = build_schedule_model(_setup(opt_cfg(["optimize.horizon_hours=2"]))[0].room_instance(0), nets, costs,
                                   cfg.optimize.formulation)
    search = OmegaConf.merge(cfg.optimize.search, {"day_dp": False})
    with pytest.raises(NoScheduleFoundError, match=r"within 0 s \(solver.time_limit_s, for the whole horizon\)"):
        ScheduleSolver(no_time, search).solve(one_day)
