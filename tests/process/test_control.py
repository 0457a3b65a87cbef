"""Golden profile, the early-warning rule, recommendations and their scoring."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.process.control import (EarlyWarning, Golden, WarningSettings, golden_profile, in_control_mask,
                                      outside_limits, score_warnings)


def _golden() -> Golden:
    # channels: target, feeder A, feeder B
    return Golden(["flow", "A", "B"], np.array([25.0, 12.0, 9.0]), np.array([0.25, 0.3, 0.2]), 4.0)


def _rule(actuators=None, debounce=1, refractory=5, incident=0, targets=("flow",)) -> EarlyWarning:
    settings = WarningSettings(horizon=1, debounce=debounce, refractory_steps=refractory, incident_steps=incident,
                               actuator_z=2.0)
    return EarlyWarning(_golden(), list(targets), actuators if actuators is not None else {"flow": ["A", "B"]}, settings)


def test_golden_profile_ignores_disturbed_and_stopped_steps():
    t = pd.date_range("2024-01-01", periods=1000, freq="5s")
    rng = np.random.default_rng(0)
    values = (10 + rng.normal(0, 0.1, (1000, 1))).astype(float)
    values[500:560] = 0.0  # a stop inside a known event
    events = pd.DataFrame({"start": [t[500]], "end": [t[559]]})
    mask = in_control_mask(t, events, 60)
    assert not mask[488:572].any() and mask[:488].all()
    g = golden_profile(values, ["x"], mask, 4.0)
    assert g.center[0] == pytest.approx(10, abs=0.02) and g.sigma[0] == pytest.approx(0.1, rel=0.15)


def test_warning_with_debounce_and_refractory():
    rule = _rule(debounce=2)
    now = np.array([25.0, 12.0, 9.0])
    assert rule.update(0, np.array([26.5]), now) == []       # first step beyond: debounce
    out = rule.update(1, np.array([26.5]), now)
    assert len(out) == 1 and out[0]["direction"] == "high"
    assert rule.update(2, np.array([26.5]), now) == []       # refractory
    assert rule.update(3, np.array([25.0]), now) == []       # back inside resets the debounce
    for t in (4, 5):
        assert rule.update(t, np.array([26.5]), now) == []   # beyond again, but the 5 refractory steps run
    assert len(rule.update(6, np.array([26.5]), now)) == 1


def test_one_warning_per_incident_names_the_target_farthest_out():
    rule = _rule(actuators={}, incident=3, targets=("flow", "A"))
    now = np.array([25.0, 12.0, 9.0])
    out = rule.update(0, np.array([26.2, 14.0]), now)        # flow 4.8 sigma, A 6.7 sigma out
    assert len(out) == 1 and out[0]["target"] == "A" and out[0]["also"] == "flow"
    assert "also forecast out: flow" in out[0]["recommendation"]
    rule = _rule(actuators={}, incident=3, targets=("flow", "A"))
    assert len(rule.update(0, np.array([26.5, 12.0]), now)) == 1
    assert rule.update(2, np.array([25.0, 14.0]), now) == []  # A crosses 2 steps later: the same incident
    assert rule.update(5, np.array([25.0, 12.0]), now) == []
    for t in range(6, 9):
        rule.update(t, np.array([25.0, 12.0]), now)           # 3 quiet steps after the incident's last crossing
    out = rule.update(9, np.array([23.5, 12.0]), now)         # flow again, refractory over: a new incident
    assert len(out) == 1 and out[0]["target"] == "flow" and out[0]["direction"] == "low"


def test_recommendation_ignores_a_deviation_that_cannot_explain_the_forecast():
    rule = _rule({"flow": {"A": 1, "B": 1}})
    out = rule.update(0, np.array([27.0]), np.array([25.0, 12.0, 7.5]))  # flow forecast high, feeder B low
    assert out[0]["rec_actuator"] == "flow"  # B low cannot raise the flow: not named as the cause
    rule = _rule({"flow": {"A": -1, "B": 1}})
    out = rule.update(0, np.array([23.0]), np.array([25.0, 13.5, 9.0]))  # A high lowers the flow
    assert out[0]["rec_actuator"] == "A" and out[0]["rec_action"] == "decrease"


def test_recommendation_names_the_deviating_feeder_and_the_direction():
    rule = _rule()
    out = rule.update(0, np.array([23.0]), np.array([24.9, 12.1, 7.5]))  # feeder B 7.5 sigma low
    rec = out[0]
    assert rec["rec_actuator"] == "B" and rec["rec_action"] == "increase" and rec["rec_by"] == pytest.approx(1.5)
    assert "increase B by 1.5" in rec["recommendation"]
    rule = _rule()
    out = rule.update(0, np.array([27.0]), np.array([25.0, 12.0, 9.0]))  # no feeder off: act on the target
    assert out[0]["rec_actuator"] == "flow" and out[0]["rec_action"] == "decrease"


def test_scoring_recall_lead_and_false_alarms():
    t = pd.date_range("2024-01-01 00:00", periods=1440, freq="5s")  # 2 hours
    values = np.full((1440, 3), [25.0, 12.0, 9.0])
    values[400:430, 0] = 20.0  # measurement out at step 400
    events = pd.DataFrame({"kind": ["blocked_feeder", "feeder_drift"], "unit": ["PD3", "PD2"],
                           "start": [t[390], t[1000]], "end": [t[430], t[1030]]})
    warnings = pd.DataFrame({"time": [t[392], t[600]], "target": ["flow", "flow"]})
    outside = outside_limits(t, values, _golden(), ["flow"])
    m, table = score_warnings(warnings, events, outside, (t[0], t[-1]), 60, 60)
    assert m["events"] == 2 and m["detected"] == 1 and m["recall"] == 0.5
    assert m["events_without_crossing"] == 1 and m["recall_of_crossing_events"] == 1.0  # the drift never left the limits
    assert m["median_lead_s"] == pytest.approx(40.0)          # steps 392 -> 400
    assert m["false_alarms"] == 1
    covered = (40 * 5 + 120 + 30 * 5 + 120) / 3600  # each event plus 60 s either side
    assert m["in_control_hours"] == pytest.approx((t[-1] - t[0]).total_seconds() / 3600 - covered)
    assert table.detected.tolist() == [True, False]


def test_an_event_straddling_the_period_is_neither_scored_nor_a_source_of_false_alarms():
    t = pd.date_range("2024-01-01 00:00", periods=1440, freq="5s")
    values = np.full((1440, 3), [25.0, 12.0, 9.0])
    events = pd.DataFrame({"kind": ["feeder_drift", "blocked_feeder"], "unit": ["PD2", "PD3"],
                           "start": [t[100], t[800]], "end": [t[300], t[830]]})
    warnings = pd.DataFrame({"time": [t[210], t[805], t[1200]], "target": ["flow"] * 3})
    outside = outside_limits(t, values, _golden(), ["flow"])
    period = (t[200], t[-1])  # the drift began before the period
    m, table = score_warnings(warnings, events, outside, period, 60, 60)
    assert m["events"] == 1 and m["events_straddling_period"] == 1 and table.kind.tolist() == ["blocked_feeder"]
    assert m["false_alarms"] == 1  # only the warning at step 1200
    covered = (100 * 5 + 60) + (60 + 30 * 5 + 60)  # the drift's window from the period's start, the block's whole
    assert m["in_control_hours"] == pytest.approx(((t[-1] - t[200]).total_seconds() - covered) / 3600)


# --- operating states and re-arming -------------------------------------------------------
STATE_RULE = {"speed": "speed", "stopped_below": 1.0, "running_from": 50.0, "settle_s": 0.0, "min_run_s": 60.0,
              "force": None, "force_from": 0.0}


def _state_golden() -> Golden:
    # channels: flow (target), speed; running profile flow 25 +- 0.25, ramping 20 +- 2
    return Golden(["flow", "speed"], np.array([25.0, 60.0]), np.array([0.25, 1.0]), 4.0,
                  {"ramping": (np.array([20.0, 30.0]), np.array([2.0, 10.0]))}, STATE_RULE)


def _state_rule(states=("running",), rearm=0, rearm_sigma=0.0, refractory=0) -> EarlyWarning:
    settings = WarningSettings(horizon=1, debounce=1, refractory_steps=refractory, incident_steps=0, actuator_z=2.0,
                               rearm_steps=rearm, rearm_sigma=rearm_sigma, states=states)
    return EarlyWarning(_state_golden(), ["flow"], {}, settings)


def _t(i: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(seconds=5 * i)


def test_no_warning_while_stopped_and_none_while_ramping_unless_configured():
    rule = _state_rule()
    assert rule.update(_t(0), np.array([0.0]), np.array([0.0, 0.0])) == []     # stopped: forces at 0 are no deviation
    assert rule.state == "stopped"
    assert rule.update(_t(1), np.array([20.0]), np.array([20.0, 30.0])) == []  # ramping: a start is planned
    out = rule.update(_t(2), np.array([20.0]), np.array([20.0, 60.0]))         # running: 20 is far below 24
    assert len(out) == 1 and out[0]["state"] == "running" and out[0]["limit"] == pytest.approx(24.0)
    rule = _state_rule(states=("running", "ramping"))
    assert rule.update(_t(0), np.array([21.0]), np.array([20.0, 30.0])) == []  # inside the ramping limits 12..28
    out = rule.update(_t(1), np.array([29.0]), np.array([20.0, 30.0]))
    assert out[0]["state"] == "ramping" and out[0]["limit"] == pytest.approx(28.0)
    assert "ramping limits 12..28" in out[0]["recommendation"]


def test_unplanned_stops_are_events_apart_from_the_warnings():
    rule = _state_rule()
    for i in range(20):  # 100 s of running
        assert rule.update(_t(i), np.array([25.0]), np.array([25.0, 60.0])) == []
    assert rule.update(_t(20), np.array([0.0]), np.array([0.0, 0.0])) == []
    assert [e["event"] for e in rule.state_events] == ["unplanned_stop"]


def test_one_long_excursion_is_one_alarm_and_the_target_rearms_once_back_inside():
    rule = _state_rule(rearm=3, rearm_sigma=0.5)
    running = np.array([25.0, 60.0])
    out = [rule.update(_t(i), np.array([26.5]), running) for i in range(200)]  # forecast out for 200 steps
    assert sum(len(o) for o in out) == 1
    for i, f in enumerate([25.9, 25.9, 25.9, 25.5, 25.5]):  # inside the limits but not by 0.5 sigma, then inside
        assert rule.update(_t(200 + i), np.array([f]), running) == []
    assert rule.update(_t(205), np.array([26.5]), running) == []  # only 2 steps back inside: still disarmed
    for i in range(3):
        rule.update(_t(206 + i), np.array([25.0]), running)
    assert len(rule.update(_t(209), np.array([26.5]), running)) == 1
    legacy = _state_rule(refractory=10)  # without re-arming: one alarm per refractory period
    assert sum(len(legacy.update(_t(i), np.array([26.5]), running)) for i in range(200)) == 20


def test_an_excursion_the_other_way_is_a_new_alarm():
    rule = _state_rule(rearm=3, rearm_sigma=0.5)
    running = np.array([25.0, 60.0])
    assert rule.update(_t(0), np.array([26.5]), running)[0]["direction"] == "high"
    assert rule.update(_t(1), np.array([26.5]), running) == []
    assert rule.update(_t(2), np.array([23.5]), running)[0]["direction"] == "low"  # straight across: not the same


def test_a_stop_does_not_rearm_a_long_excursion():
    rule = _state_rule(rearm=3, rearm_sigma=0.5)
    assert len(rule.update(_t(0), np.array([26.5]), np.array([25.0, 60.0]))) == 1
    for i in range(1, 10):
        rule.update(_t(i), np.array([0.0]), np.array([0.0, 0.0]))  # stopped: the forecast means nothing
    assert rule.update(_t(10), np.array([26.5]), np.array([25.0, 60.0])) == []


def test_golden_and_settings_travel_through_the_metadata():
    g = _state_golden()
    back = Golden.from_dict(json.loads(json.dumps(g.as_dict())))
    assert back.rule == STATE_RULE and back.profile("ramping")[0].tolist() == [20.0, 30.0]
    assert back.profile("stopped") is None
    old = {"channels": ["flow"], "center": [1.0], "sigma": [0.1], "k": 4.0}  # a model exported before states
    assert Golden.from_dict(old).rule is None and Golden.from_dict(old).others == {}
    s = WarningSettings(1, 1, 0, 0, 2.0, 3, 0.5, ("running", "ramping"))
    assert WarningSettings(**json.loads(json.dumps(s.as_dict()))) == s
    assert WarningSettings(1, 1, 0, 0, 2.0).states == ("running",)  # older metadata lacks the new fields
    with pytest.raises(ValueError, match="stopped"):
        WarningSettings(1, 1, 0, 0, 2.0, states=("stopped",))
