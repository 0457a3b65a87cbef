"""The scripted presses (pipeline/data/press): what they make follows the plan's hours and the
script's events, second by second; a bad event is one line naming its key; the plan file's reader
names file, row and column."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.contracts.press_signals import read_plan
from pipeline.core.validation import DataValidationError
from pipeline.data.press.events import parse_events
from pipeline.data.press.simulator import HourPlan, ScriptedPresses, run_day, steps

NORMAL = {"pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.3}
NOISE = {"pressure_kN": 0.8, "speed_rpm": 8.0, "vibration_mm_s": 0.03}


def presses(events=(), hours=4, prices=None, seed=0) -> ScriptedPresses:
    prices = np.full(hours, 40.0) if prices is None else np.asarray(prices, float)
    return ScriptedPresses(parse_events("t", list(events), 1, hours), prices, NORMAL, 1, 36, 0.5, NOISE, seed)


def full_output(hour: int) -> HourPlan:
    return HourPlan(22.0, 30.0, [36], [1 if hour == 2 else 0])


def test_a_calm_day_makes_what_each_hour_asks():
    sim = presses()
    run_day(sim, lambda h: HourPlan(22.0, 30.0, [36 if h != 2 else 18], [1 if h == 2 else 0]), tick_s=60)
    rec = sim.record()
    assert rec["units"].tolist() == [36, 36, 18, 36]
    assert rec["maintenance"].tolist() == [0, 0, 1, 0]
    assert rec["producing_s"].tolist() == [3600, 3600, 1800, 3600]  # the planned maintenance takes half the hour
    assert rec["vibration_mm_s"].tolist() == pytest.approx([0.3] * 4)


def test_a_stop_loses_its_units_and_an_unscheduled_maintenance_counts_and_pauses():
    sim = presses([{"event": "stop", "press": 0, "start": "00:30", "end": "01:15"},
                   {"event": "maintenance", "press": 0, "at": "03:30"}])
    seen = []
    run_day(sim, full_output, tick_s=300, on_sample=lambda s: seen.append((s.time_s, bool(s.running[0]), int(s.maintenances[0]))))
    rec = sim.record()
    assert rec["units"].tolist() == [18, 27, 18, 18]  # hour 3: 30 minutes of unscheduled maintenance
    assert rec["maintenance"].tolist() == [0, 0, 1, 1]
    assert (1800, False, 0) in seen and (4500, True, 0) in seen and (12600, True, 2) in seen
    assert seen[-1][0] == 4 * 3600  # the day's last second is sampled: its totals


def test_a_drift_ramps_the_true_input_and_a_sample_adds_seeded_noise():
    sim = presses([{"event": "drift", "press": 0, "signal": "vibration_mm_s", "start": "01:00", "end": "03:00", "to": 0.7}])
    true = sim.true_inputs(np.array([0, 3600, 7200, 10800, 14000]))["vibration_mm_s"][0]
    assert true.tolist() == pytest.approx([0.3, 0.3, 0.5, 0.7, 0.7])
    samples = []
    run_day(sim, full_output, tick_s=60, on_sample=lambda s: samples.append(s.inputs["vibration_mm_s"][0]))
    again = []
    run_day(presses([{"event": "drift", "press": 0, "signal": "vibration_mm_s", "start": "01:00", "end": "03:00",
                      "to": 0.7}]), full_output, tick_s=60, on_sample=lambda s: again.append(s.inputs["vibration_mm_s"][0]))
    assert samples == again  # seeded per line second
    assert np.std(np.asarray(samples[:60]) - 0.3) == pytest.approx(0.03, rel=0.35)
    assert sim.record()["vibration_mm_s"].tolist()[3] == pytest.approx(0.7)


def test_a_price_spike_is_known_from_its_announcement():
    sim = presses([{"event": "price_spike", "announce": "01:30", "hours": [2, 3], "factor": 3.0}], prices=[10, 20, 30, 40])
    assert sim.prices_at(5399).tolist() == [10, 20, 30, 40]
    assert sim.prices_at(5400).tolist() == [10, 20, 90, 120]
    assert sim.realised_prices.tolist() == [10, 20, 90, 120]


def test_steps_start_each_hour_before_its_first_sample():
    sim = presses(hours=2)
    order = []
    for kind, when in steps(sim, 1800, start_s=1800):
        order.append((kind, when))
        if kind == "hour":
            sim.start_hour(full_output(when))
    assert order == [("hour", 0), ("sample", 1800), ("hour", 1), ("sample", 3600), ("sample", 5400), ("sample", 7200)]


@pytest.mark.parametrize("event, message", [
    ({"event": "quake"}, r"replan\.scenarios\.t\[0\]\.event = 'quake': allowed one of drift, stop, maintenance, price_spike"),
    ({"event": "stop", "press": 0, "start": "10:00"}, r"replan\.scenarios\.t\[0\]: a stop event needs press, start, end \(missing end\)"),
    ({"event": "stop", "press": 3, "start": "01:00", "end": "02:00"}, r"replan\.scenarios\.t\[0\]\.press = 3: the plan has 1 press"),
    ({"event": "maintenance", "press": 0, "at": "25:00"}, r"replan\.scenarios\.t\[0\]\.at = '25:00': allowed a time of the day"),
    ({"event": "drift", "press": 0, "signal": "humidity_pct", "start": "01:00", "end": "02:00", "to": 1},
     r"\.signal = 'humidity_pct': allowed one of pressure_kN, speed_rpm, vibration_mm_s"),
    ({"event": "price_spike", "announce": "01:00", "hours": [3, 9], "factor": 2}, r"\.hours = \[3, 9\]: allowed \[first, last\]"),
])
def test_a_bad_event_is_one_line_naming_its_key(event, message):
    with pytest.raises(ValueError, match=message):
        parse_events("t", [event], 1, 4)


def test_steps_refuse_a_tick_that_does_not_divide_the_hour():
    with pytest.raises(ValueError, match=r"replan\.line\.tick_s = 7: allowed a whole number of seconds > 0 that divides 3600"):
        next(steps(presses(), 7))


def plan_file(tmp_path, **change) -> str:
    table = pd.DataFrame({"press": 0, "hour": range(3), "temperature_C": 22.0, "humidity_pct": 30.0,
                          "units": [36, 18, 0], "maintenance": [0, 1, 0]})
    for column, (row, value) in change.items():
        table[column] = table[column].astype(object)
        table.loc[row, column] = value
    path = tmp_path / "schedule.csv"
    table.to_csv(path, index=False)
    return path


def test_a_plan_file_is_read_and_checked(tmp_path):
    assert read_plan(plan_file(tmp_path))["units"].tolist() == [36, 18, 0]
    with pytest.raises(DataValidationError, match=r"schedule\.csv, row 3, column 'maintenance': '2' is not 0 or 1"):
        read_plan(plan_file(tmp_path, maintenance=(1, 2)))
    with pytest.raises(DataValidationError, match=r"row 4, column 'units': 'many' is not a whole number >= 0"):
        read_plan(plan_file(tmp_path, units=(2, "many")))
    with pytest.raises(DataValidationError, match=r"column 'hour': each press 0\.\.0 needs each hour 0\.\.2 exactly once"):
        read_plan(plan_file(tmp_path, hour=(1, 0)))
    (tmp_path / "other.csv").write_text("press,hour\n0,0\n")
    with pytest.raises(DataValidationError, match=r"other\.csv: missing column\(s\) \['temperature_C'"):
        read_plan(tmp_path / "other.csv")
