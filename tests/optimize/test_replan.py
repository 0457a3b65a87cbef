"""The live planner's pieces on a 4-hour day with the stand-in network: the remaining hours as an
instance with the past fixed, a network that counts the maintenances done, the screened two-phase
search against the plain one, start schedules, and the realised profit against the optimiser's own."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.core.onnx_io import session
from pipeline.optimize.costs import Costs
from pipeline.optimize.formulation import build_schedule_model
from pipeline.optimize.live.planner import build_planner
from pipeline.optimize.live.realised import realised_profit
from pipeline.optimize.live.remaining import (PastHours, Progress, counted_network, past_failure_cost, remaining_instance,
                                              the_press)
from pipeline.optimize.live.resolve import start_schedule
from pipeline.optimize.network import FEATURES, N_INPUT
from pipeline.optimize.sigmoid import sigmoid
from pipeline.optimize.solve import ScheduleSolver
from tests.optimize.replan_harness import short_day


@pytest.fixture(scope="module")
def day4(tmp_path_factory, fault_onnx):
    cfg, plan = short_day(tmp_path_factory.mktemp("day4"), fault_onnx, hours=4)
    planner, _ = build_planner(cfg)
    return cfg, plan, planner


def progress(planner, first: int, made: int, done: int, inputs=None, prices=None) -> Progress:
    v0 = planner.plan
    return Progress(first, made, done, float(v0.humidity[first - 1]), inputs or dict(v0.inputs),
                    v0.prices if prices is None else np.asarray(prices, float))


def test_a_counted_network_is_the_network_at_the_days_count(day4):
    _, _, planner = day4
    net = planner.net
    rng = np.random.default_rng(0)
    raw = np.column_stack([np.full(20, 62.0), rng.uniform(18, 30, 20), np.full(20, 758.0), np.full(20, 0.3),
                           rng.uniform(30, 65, 20), rng.integers(0, 4, 20)])
    shifted = raw.copy()
    shifted[:, FEATURES.index(N_INPUT)] += 2
    counted = counted_network(net, 2)
    assert counted.logit(raw) == pytest.approx(net.logit(shifted), abs=1e-9)
    sess = session(net.path)  # the same ONNX graph, fed N' through the shifted scaling
    name = sess.get_inputs()[0].name
    assert sess.run(None, {name: counted.graph_input(raw)})[0][:, 0] == pytest.approx(
        sess.run(None, {name: net.graph_input(shifted)})[0][:, 0], abs=1e-5)


def test_the_remaining_hours_carry_the_past(day4):
    cfg, _, planner = day4
    day = planner.day
    inst, short = remaining_instance(day, progress(planner, 2, made=60, done=1, inputs={
        "pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.5}, prices=[1, 2, 3, 4]), cfg.costs.machine_energy)
    press, now = the_press(day), the_press(inst)
    assert inst.hours == 2 and inst.price.tolist() == [3, 4] and short == 0
    assert inst.demand == [day.demand[0] - 60]
    assert (now.required_maintenance, now.max_maintenance) == (0, press.max_maintenance - 1)
    assert inst.humidity_initial == pytest.approx((planner.plan.humidity[1],))
    assert now.machine_kwh_per_unit == pytest.approx(press.machine_kwh_per_unit + 1000.0 * 0.2)  # gamma x 0.2 mm/s
    assert now.fixed_inputs["vibration_mm_s"] == 0.5 and now.network_file == press.network_file
    # more owed than two hours can make: capped, and the rest reported
    inst, short = remaining_instance(day, progress(planner, 2, made=0, done=0), cfg.costs.machine_energy)
    capacity = 2 * press.max_per_hour - (press.max_per_hour - press.capacity_in_maintenance_hour)
    assert inst.demand == [capacity] and short == day.demand[0] - capacity


def test_the_past_hours_cost_falls_with_the_days_count(day4):
    _, _, planner = day4
    past = PastHours(np.array([36, 36]), np.array([22.0, 22.0]), np.array([40.0, 40.0]),
                     {"pressure_kN": np.full(2, 62.0), "speed_rpm": np.full(2, 758.0), "vibration_mm_s": np.full(2, 0.3)})
    costs = Costs(100.0, 200.0, 1000.0, 500.0, 300.0)
    raw = np.array([[62.0, 22.0, 758.0, 0.3, 40.0, 3.0]] * 2)
    assert past_failure_cost(planner.net, past, 3, costs) == pytest.approx(300.0 * 72 * sigmoid(planner.net.logit(raw))[0])
    assert past_failure_cost(planner.net, past, 6, costs) < past_failure_cost(planner.net, past, 1, costs)
    assert past_failure_cost(planner.net, None, 3, costs) == 0.0


def test_the_screened_search_finds_the_plain_searchs_optimum(day4):
    """Every count built and searched (the optimiser's own way) against the planner's hour-value
    screening and two phases: the same optimum, a proven bound, usually one sub-model built; and
    each count's screening bound above that count's optimum."""
    cfg, _, planner = day4
    solver = planner.solver
    v0 = planner.plan
    inst, _ = remaining_instance(planner.day, progress(planner, 1, made=int(v0.units[0, 0]), done=0, inputs={
        "pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.45}), cfg.costs.machine_energy)
    past = PastHours(v0.units[0, :1], v0.temperature[:1], v0.humidity[:1], {k: np.full(1, v) for k, v in v0.inputs.items()})
    start = start_schedule(inst, v0.temperature[1:], v0.humidity[1:], v0.units[:, 1:], v0.maintenance[:, 1:])
    screened = solver.solve(inst, 0, start, past)
    assignments, encodings, hour_values = solver.parts(inst, 0)
    plain = build_schedule_model(inst.room_instance(0), {the_press(inst).network_file: planner.net}, solver.costs,
                                 cfg.optimize.formulation, shared=(assignments, encodings, hour_values))
    for sub in plain.submodels:  # the past hours' term, as a constant of each count
        sub.model.profit.set_value(sub.model.profit.expr - past_failure_cost(
            planner.net, past, sub.n_fixed[(0, 0)], solver.costs))
    full = ScheduleSolver(solver.solver_cfg, OmegaConf.create({"lp_bounds": False, "prune": False, "start": False,
                                                              "polish": True})).solve(plain)
    gap = float(cfg.solver.mip_rel_gap)
    assert screened.proven and full.status == "optimal"
    assert screened.result.objective == pytest.approx(full.objective, rel=2 * gap, abs=1e-6)
    assert screened.result.bound >= full.objective - 1e-6
    assert screened.built <= len(assignments)
    bounds = solver.bounds(inst, hour_values, {a[(0, 0)]: -past_failure_cost(planner.net, past, a[(0, 0)], solver.costs)
                                               for a in assignments})
    for sub in full.subs:
        if sub.objective is not None:
            assert bounds[int(sub.label.split("=")[1])] >= sub.objective - 1e-6, sub


def test_a_start_schedule_is_repaired_to_fit(day4):
    cfg, _, planner = day4
    inst, _ = remaining_instance(planner.day, progress(planner, 1, made=40, done=0), cfg.costs.machine_energy)
    assert inst.demand == [60]
    T, H = np.full(3, 22.0), np.full(3, 40.0)
    start = start_schedule(inst, T, H, np.array([[0, 0, 0]]), np.array([[0, 0, 1]]))
    assert start["x"].sum() == inst.demand[0]  # topped up, cheapest hours first
    assert start["x"][0, np.argmin(inst.price)] == the_press(inst).max_per_hour
    more = start_schedule(inst, T, H, np.array([[36, 20, 0]]), np.array([[0, 0, 1]]), count=2)
    assert more["b"].tolist() == [[0, 1, 1]] and more["N"].tolist() == [[2]]  # the new one where fewest units were made
    assert more["x"][0, 1] <= the_press(inst).capacity_in_maintenance_hour
    assert start_schedule(inst, T, H, np.array([[0, 0, 0]]), np.array([[0, 0, 0]]), count=0) is None  # one is required


def test_a_calm_day_is_worth_what_the_optimiser_said(day4):
    """The realised profit of the day-ahead plan run as planned, with the network as failure
    model, is the optimiser's objective with onnxruntime's p (metrics.json)."""
    cfg, plan, planner = day4
    table = pd.read_csv(plan)
    record = table.assign(pressure_kN=62.0, speed_rpm=758.0, vibration_mm_s=0.3)
    net = planner.net
    worth = realised_profit(record, planner.day, Costs.from_cfg(cfg.costs), cfg.costs.machine_energy,
                            lambda frame: sigmoid(net.logit(frame[list(FEATURES)].to_numpy(float))), 200.0)
    metrics = json.loads(plan.with_name("metrics.json").read_text())
    assert worth["profit_usd"] == pytest.approx(metrics["verification"]["objective_true_sigmoid"], rel=1e-6)
    assert worth["units_short"] == 0 and worth["maintenances"] == int(table["maintenance"].sum())
    short = realised_profit(record.assign(units=0), planner.day, Costs.from_cfg(cfg.costs), cfg.costs.machine_energy,
                            lambda frame: np.zeros(len(frame)), 200.0)
    assert short["units_short"] == planner.day.demand[0] and short["shortfall_cost_usd"] == 200.0 * planner.day.demand[0]


def drifted_planner(cfg, time_limit_s: float):
    """A fresh planner of the 4-hour day whose press has drifted to 0.5 mm/s by the end of hour 0."""
    planner, _ = build_planner(OmegaConf.merge(cfg, {"replan": {"solve": {"time_limit_s": time_limit_s},
                                                                "triggers": {"debounce_s": 0}}}))
    v0 = planner.plan
    signals = {("pressure_kN", 0): 62.0, ("speed_rpm", 0): 758.0, ("vibration_mm_s", 0): 0.5, ("running", 0): True,
               ("units", 0): int(v0.units[0, 0]), ("maintenances", 0): int(v0.maintenance[0, 0]),
               ("prices", None): list(v0.prices)}
    planner.observe(0.0, {**signals, ("units", 0): 0})
    return planner, planner.observe(3600.0, signals)


def test_a_plan_not_proven_in_time_is_published_with_its_gap(day4):
    cfg, _, _ = day4
    planner, triggers = drifted_planner(cfg, time_limit_s=1e-3)
    assert triggers == ["hour", "probability"]
    version = planner.replan(3600.0, triggers)
    assert version is not None and planner.plan is version
    if version.status != "optimal":  # the LP bound alone may prove it; otherwise it goes out with its gap
        assert version.gap > float(cfg.solver.mip_rel_gap)
        assert [f.what for f in planner.flags] == ["not_proven"]
        assert f"gap {version.gap:.2e}" in planner.flags[0].detail


def test_a_plan_that_fails_its_verification_is_not_published(day4, monkeypatch):
    from pipeline.optimize.live import resolve
    from pipeline.optimize.verify import VerificationError

    cfg, _, _ = day4
    planner, triggers = drifted_planner(cfg, time_limit_s=10)
    before = planner.plan

    def refuse(*args, **kwargs):
        raise VerificationError("objective: MILP 1 vs numpy 2")

    monkeypatch.setattr(resolve, "verify", refuse)
    assert planner.replan(3600.0, triggers) is None
    assert planner.plan is before and len(planner.versions) == 1
    assert planner.flags[-1].what == "replan_failed" and "the last proven plan stays" in planner.flags[-1].detail


def test_a_plan_of_another_plant_is_refused_in_one_line(day4):
    """A plant of two presses is re-planned (test_replan_plant.py), but not from a one-press plan."""
    cfg, _, _ = day4
    with pytest.raises(ValueError, match=r"a plan of 1 press\(es\) x 4 hours, but the day .* has 2 x 4") as err:
        build_planner(OmegaConf.merge(cfg, {"optimize": {"presses": 2}}))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("signal, value, says", [
    (("pressure_kN", 0), float("nan"), "nan is not a finite number"),
    (("pressure_kN", 0), "62", "'62' is not a number"),
    (("vibration_mm_s", 0), 1e9, "1e+09 outside ["),
    (("units", 0), float("nan"), "nan is not a finite number"),
    (("units", 0), 10**12, "allowed a whole number from 0 to"),
    (("maintenances", 0), -1, "allowed a whole number from 0 to 4"),
    (("running", 0), 2, "not a running state"),
    (("prices", None), [50.0] * 3, "3 value(s); the day has 4 hours"),
])
def test_a_press_sample_the_press_cannot_send_is_refused_and_changes_nothing(day4, signal, value, says):
    """A broken sensor or a hostile press server: NaN, text, 1e9 mm/s, a trillion units. Each is
    flagged once (then counted) and the last accepted value holds; before, NaN units crashed the
    planner, 1e9 mm/s was planned on and a price list of the wrong length was dropped unsaid."""
    cfg, _, _ = day4
    planner, _ = build_planner(cfg)
    v0 = planner.plan
    good = {("pressure_kN", 0): 62.0, ("speed_rpm", 0): 758.0, ("vibration_mm_s", 0): 0.3, ("running", 0): True,
            ("units", 0): 5, ("maintenances", 0): 0, ("prices", None): list(v0.prices)}
    planner.observe(0.0, good)
    before = (planner.state.smoothed(0), list(planner.state.units), list(planner.state.maintenances),
              list(planner.state.running), planner.state.prices.copy())
    for t in (1.0, 2.0):
        planner.observe(t, {signal: value})
    after = (planner.state.smoothed(0), list(planner.state.units), list(planner.state.maintenances),
             list(planner.state.running), planner.state.prices)
    assert before[:4] == after[:4] and np.array_equal(before[4], after[4])
    assert [f.what for f in planner.flags] == ["refused"] and says in planner.flags[0].detail, planner.flags
    assert planner.refused == {signal: 2}
