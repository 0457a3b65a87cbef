"""Operating states: the whole-series rule, its one-step-at-a-time twin, the stop table and the
in-graph state features agree; the real press series splits into the states it shows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.process.model import StateFeatures
from pipeline.process.states import (RAMPING, RUNNING, STOPPED, UNKNOWN, StateRule, StateTracker, classify,
                                     stop_table)
from tests.conftest import shared_file

RULE = StateRule(speed="speed", stopped_below=1.0, running_from=50.0, settle_s=30.0, min_run_s=100.0,
                 force="force", force_from=2.0)
CHANNELS = ["force", "speed"]


def _series() -> tuple[pd.DatetimeIndex, np.ndarray]:
    speed = np.full(120, 60.0)
    force = np.full(120, 10.0)
    speed[20:25] = 0.0        # a stop after 20 steps (100 s) of running: unplanned
    speed[25] = 30.0          # the restart's first step: ramping (below running_from)
    speed[40:42] = 0.0        # a stop after a short run: set-up
    force[60:63] = 0.5        # turning without compressing: ramping
    speed[70] = np.nan        # a missing speed: unknown, changes nothing
    speed[110:] = 0.0         # stopped to the end of the data
    return pd.date_range("2024-01-01", periods=120, freq="5s"), np.column_stack([force, speed])


def test_the_streaming_tracker_equals_the_whole_series_rule():
    time, values = _series()
    states = classify(time, values, CHANNELS, RULE)
    tracker = StateTracker(RULE, CHANNELS)
    assert [tracker.update(t, row) for t, row in zip(time, values)] == states.tolist()
    assert states[19] == RUNNING and states[20] == STOPPED and states[25] == RAMPING
    assert (states[25:30] == RAMPING).all() and states[30] == RUNNING  # settle: 30 s after the last stopped step (24)
    assert (states[60:63] == RAMPING).all() and states[70] == UNKNOWN
    # the set-up stop at 40 is not unplanned; the last one is (a live monitor cannot know the data end there)
    assert [e["time"] for e in tracker.events] == [time[20], time[110]]
    assert tracker.events[0]["ran_s"] == pytest.approx(100.0)
    assert tracker.events[1]["ran_s"] == pytest.approx(235.0)  # running again from 63, after the force dip


def test_the_tracker_counts_settle_time_in_seconds_when_steps_are_skipped():
    time, values = _series()
    states = classify(time, values, CHANNELS, RULE)
    tracker = StateTracker(RULE, CHANNELS)
    keep = [i for i in range(len(time)) if i not in (22, 27, 28, 29)]  # the replay skips incomplete windows
    assert [tracker.update(time[i], values[i]) for i in keep] == states[keep].tolist()


def test_stop_table_kinds():
    time, values = _series()
    states = classify(time, values, CHANNELS, RULE)
    segments = np.zeros(120, dtype=np.int64)
    table = stop_table(time, states, segments, RULE)
    assert table.kind.tolist() == ["unplanned", "set-up", "end of data"]
    assert table.duration_s.tolist() == [20.0, 5.0, 45.0]
    segments[23:] = 1  # the batch changes during the first stop
    assert stop_table(time, states, segments, RULE).kind.tolist()[0] == "batch change"


def test_state_features_in_the_graph_match_the_rule_at_the_window_end():
    time, values = _series()
    values = np.nan_to_num(values, nan=60.0)
    states = classify(time, values, CHANNELS, RULE)
    mean, std = values.mean(axis=0), values.std(axis=0)
    features = StateFeatures(RULE, CHANNELS, mean, std, period_s=5.0)
    lookback = 12
    ends = np.arange(lookback - 1, len(values))
    x = torch.as_tensor((values[ends[:, None] + np.arange(-lookback + 1, 1)] - mean) / std, dtype=torch.float32)
    onehot = features(x).numpy()
    assert np.allclose(onehot.sum(-1), 1.0)
    np.testing.assert_array_equal(onehot[:, -1].argmax(-1), states[ends])  # codes 0, 1, 2 = stopped, ramping, running


def test_a_bad_rule_is_refused():
    with pytest.raises(ValueError, match="stopped_below"):
        StateRule.from_config({"speed": {"channel": "s", "stopped_below": 5, "running_from": 1},
                               "settle_s": 0, "min_run_s": 0, "abrupt_s": 0})


def test_the_real_press_series_states():
    path = shared_file("tablet_press_process", "Process_timeseries_code6.csv")
    df = pd.read_csv(path, sep=";", parse_dates=["timestamp"])
    rule = StateRule.from_config({"speed": {"channel": "tbl_speed", "stopped_below": 1.0, "running_from": 100.0},
                                  "force": {"channel": "main_comp", "running_from": 1.0}, "settle_s": 240,
                                  "min_run_s": 600, "abrupt_s": 30})
    states = classify(pd.DatetimeIndex(df.timestamp), df[["tbl_speed", "main_comp"]].to_numpy(float),
                      ["tbl_speed", "main_comp"], rule)
    share = {s: float((states == s).mean()) for s in (STOPPED, RAMPING, RUNNING)}
    assert share[STOPPED] == pytest.approx(0.603, abs=0.005)  # the press stands still 60 % of the file
    assert 0.35 < share[RUNNING] < 0.39 and share[RAMPING] < 0.03
    segments = (df.batch != df.batch.shift()).cumsum().to_numpy() - 1
    stops = stop_table(pd.DatetimeIndex(df.timestamp), states, segments, rule)
    assert (stops.kind == "batch change").sum() == 1  # batch 368 -> 369
    unplanned = stops[stops.kind == "unplanned"]
    assert len(unplanned) >= 5 and (unplanned.ran_s >= 600).all()


def test_an_abrupt_stop_is_unplanned_a_slow_ramp_down_is_not():
    speed = np.full(200, 60.0)
    speed[40] = 24.0          # the 5-s grid's mean over the second the interlock hit: one step between
    speed[41:60] = 0.0
    speed[120:130] = 30.0     # an operator slows the press down over 50 s ...
    speed[130:150] = 0.0      # ... and stops it
    time = pd.date_range("2024-01-01", periods=200, freq="5s")
    values = np.column_stack([np.full(200, 10.0), speed])
    states = classify(time, values, CHANNELS, RULE)
    table = stop_table(time, states, np.zeros(200, dtype=np.int64), RULE)
    assert table.kind.tolist() == ["unplanned", "set-up"]
    tracker = StateTracker(RULE, CHANNELS)
    for t, row in zip(time, values):
        tracker.update(t, row)
    assert [e["time"] for e in tracker.events] == [time[41]]
