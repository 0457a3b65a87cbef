"""What re-planning does on an 8-hour day (cheap hours 0-1 and 4-5, dear 2-3 and 6-7), the scripted
presses closed through the planner in one process, against the same day run on its day-ahead
plan: a vibration drift moves maintenance or cuts production in the hours it affects; a stop moves
production into other hours; a price spike moves production out of the spike; a maintenance done
early is counted and the plan drops one it no longer needs. Realised profit with the generator's
true failure model; the stand-in network is fitted to it but extrapolates past the training range
(a drift to 0.7 mm/s), so only the scenarios inside it assert the profit."""
from __future__ import annotations

import numpy as np
import pytest

from tests.optimize.replan_harness import replanned_day, short_day, static_day

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day8(tmp_path_factory, fault_onnx):
    cfg, _ = short_day(tmp_path_factory.mktemp("day8"), fault_onnx)
    return cfg


def test_a_vibration_drift_adds_maintenance_or_cuts_production_in_the_hours_it_affects(day8):
    events = [{"event": "drift", "press": 0, "signal": "vibration_mm_s", "start": "01:00", "end": "02:00", "to": 0.5}]
    day = replanned_day(day8, events)
    v0, last = day.planner.versions[0], day.planner.plan
    assert any("probability" in v.trigger for v in day.planner.versions[1:])
    drifted = slice(2, None)  # the hours after the drift reached 0.5
    more_maintenance = last.maintenance[0, drifted].sum() > v0.maintenance[0, drifted].sum()
    fewer_units = (last.units[0, drifted] < v0.units[0, drifted]).any()
    assert more_maintenance or fewer_units, (v0.units, v0.maintenance, last.units, last.maintenance)
    adopted = [v.inputs["vibration_mm_s"] for v in day.planner.versions if "probability" in v.trigger]
    assert 0.4 < adopted[-1] < 0.55 and max(adopted) < 0.55  # the measured mean, not one noisy sample


def test_a_stop_moves_production_into_other_hours(day8):
    events = [{"event": "stop", "press": 0, "start": "00:10", "end": "02:00"}]
    static, day = static_day(day8, events), replanned_day(day8, events)
    v0, last = day.planner.versions[0], day.planner.plan
    assert "stop" in day.planner.versions[1].trigger and "restart" in " ".join(v.trigger for v in day.planner.versions)
    later = slice(3, None)
    assert last.units[0, later].sum() > v0.units[0, later].sum()  # the lost units, made in the hours after
    assert day.profit["units_short"] == 0 < static.profit["units_short"]
    assert day.profit["profit_usd"] > static.profit["profit_usd"]


def test_a_price_spike_moves_production_out_of_the_spike(day8):
    events = [{"event": "price_spike", "announce": "01:00", "hours": [4, 5], "factor": 4.0}]
    static, day = static_day(day8, events), replanned_day(day8, events)
    v0, last = day.planner.versions[0], day.planner.plan
    assert "price" in day.planner.versions[1].trigger
    assert last.units[0, 4:6].sum() < v0.units[0, 4:6].sum()
    assert day.record["units"].sum() >= day.planner.day.demand[0]
    assert day.profit["profit_usd"] > static.profit["profit_usd"]


def test_a_maintenance_done_early_counts_toward_the_day(day8):
    events = [{"event": "maintenance", "press": 0, "at": "00:40"}]
    static, day = static_day(day8, events), replanned_day(day8, events)
    v0 = day.planner.versions[0]
    assert day.planner.versions[1].trigger == "maintenance"
    assert static.profit["maintenances"] == int(v0.count[0]) + 1
    assert day.profit["maintenances"] <= static.profit["maintenances"] - 1  # one planned maintenance dropped
    assert np.all(day.planner.plan.count >= 1)
    assert day.profit["profit_usd"] >= static.profit["profit_usd"]


def test_measurement_noise_alone_re_plans_nothing_but_the_hours(day8):
    day = replanned_day(day8, [])
    assert {v.trigger for v in day.planner.versions[1:]} == {"hour"}
    assert len(day.planner.versions) == 7  # the day-ahead plan and one per hour closed at 01:00..06:00 (at 07:00 nothing is left)
