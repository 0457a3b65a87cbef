"""Operating states of the press, told from the data at every step (conf: data.line.states).

- stopped: the speed is below `stopped_below`;
- ramping: the press turns but is not yet in production: the speed is below `running_from`,
  the force (when configured) below its `running_from`, or less than `settle_s` have passed
  since the last stopped step (a start: forces and the tablet stream settle);
- running: everything else; the forecaster is trained and scored here, and the golden
  profile and limits are per state.

A missing speed is `unknown` and changes nothing. `classify` labels a whole series and
`StateTracker` does the same one step at a time (the warning rule and the line-side replay);
the tests hold them equal. A stop after at least `min_run_s` of running, reached within
`abrupt_s` of leaving running (an interlock or a fault: no slow ramp-down), is an
`unplanned stop` (production interrupted); a stop out of a set-up (ramping or a short run)
or after a slow ramp-down is planned. `stop_table` lists every stop with its duration and,
where the series names batches, whether the batch changed during it (planned too).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

UNKNOWN, STOPPED, RAMPING, RUNNING = -1, 0, 1, 2
NAMES = {UNKNOWN: "unknown", STOPPED: "stopped", RAMPING: "ramping", RUNNING: "running"}
CODES = {name: code for code, name in NAMES.items()}
STOP_COLUMNS = ["start", "end", "duration_s", "ran_s", "from_state", "segment_before", "segment_after", "kind"]


@dataclass(frozen=True)
class StateRule:
    speed: str                   # channel of the press speed
    stopped_below: float         # speed below this: stopped
    running_from: float          # speed from this (and settled): running
    settle_s: float              # seconds after the last stopped step still counted as ramping
    min_run_s: float             # a stop after this long running is an unplanned stop ...
    abrupt_s: float = 30.0       # ... if it came within this long of leaving running (no slow ramp-down)
    force: str | None = None     # optional force channel: below force_from the press is not producing
    force_from: float = 0.0

    @classmethod
    def from_config(cls, states: DictConfig | dict) -> "StateRule":
        s = OmegaConf.create(states) if isinstance(states, dict) else states
        force = s.get("force")
        rule = cls(str(s.speed.channel), float(s.speed.stopped_below), float(s.speed.running_from),
                   float(s.settle_s), float(s.min_run_s), float(s.abrupt_s),
                   str(force.channel) if force else None, float(force.running_from) if force else 0.0)
        if not 0 <= rule.stopped_below <= rule.running_from:
            raise ValueError(f"data.line.states.speed: need 0 <= stopped_below <= running_from, got "
                             f"{rule.stopped_below}, {rule.running_from}")
        if min(rule.settle_s, rule.min_run_s, rule.abrupt_s) < 0:
            raise ValueError("data.line.states: settle_s, min_run_s and abrupt_s must be >= 0")
        return rule

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StateRule":
        return cls(**d)

    def channels(self) -> list[str]:
        return [self.speed] + ([self.force] if self.force else [])


def _seconds(time) -> np.ndarray:
    return pd.DatetimeIndex(time).as_unit("ns").asi8.astype(np.float64) / 1e9


def classify(time: pd.DatetimeIndex, values: np.ndarray, channels: list[str], rule: StateRule) -> np.ndarray:
    """State code per step (int8) of a whole series; equal to StateTracker step by step."""
    speed = values[:, channels.index(rule.speed)].astype(np.float64)
    known = np.isfinite(speed)
    stopped = known & (speed < rule.stopped_below)
    t = _seconds(time)
    last_stop = pd.Series(np.where(stopped, t, np.nan)).ffill().to_numpy()
    settled = ~(t - last_stop < rule.settle_s)  # never stopped so far: settled
    producing = speed >= rule.running_from
    if rule.force:
        producing &= values[:, channels.index(rule.force)] >= rule.force_from
    state = np.full(len(speed), RAMPING, dtype=np.int8)
    state[stopped] = STOPPED
    state[known & ~stopped & producing & settled] = RUNNING
    state[~known] = UNKNOWN
    return state


class Transitions:
    """Stops and runs from a stream of states: `advance` returns, when a stop begins, how long
    the press had run before it and whether it is unplanned (at least min_run_s of running,
    stopped within abrupt_s of leaving running); unplanned stops are kept in `events`."""

    def __init__(self, rule: StateRule):
        self.rule = rule
        self.state = UNKNOWN
        self.run_since = self.left_running = 0.0
        self.last_run_s = 0.0
        self.events: list[dict] = []

    def advance(self, time, t: float, state: int) -> dict | None:
        r, previous = self.rule, self.state
        self.state = state
        if state == RUNNING and previous != RUNNING:
            self.run_since = t
        if previous == RUNNING and state != RUNNING:
            self.left_running, self.last_run_s = t, t - self.run_since
        if state != STOPPED or previous == STOPPED:
            return None
        unplanned = self.last_run_s >= r.min_run_s and t - self.left_running <= r.abrupt_s
        stop = {"time": pd.Timestamp(time), "ran_s": self.last_run_s, "unplanned": unplanned}
        if unplanned:
            self.events.append({"time": stop["time"], "event": "unplanned_stop", "ran_s": self.last_run_s})
        self.last_run_s = 0.0
        return stop


class StateTracker:
    """classify() one step at a time; `update` returns the state and records unplanned stops
    (dicts in `events`)."""

    def __init__(self, rule: StateRule, channels: list[str]):
        self.rule = rule
        self.i_speed = channels.index(rule.speed)
        self.i_force = channels.index(rule.force) if rule.force else None
        self.last_stop = -np.inf
        self.transitions = Transitions(rule)

    @property
    def events(self) -> list[dict]:
        return self.transitions.events

    def update(self, time, row: np.ndarray) -> int:
        r = self.rule
        t = pd.Timestamp(time).value / 1e9
        speed = float(row[self.i_speed])
        if not np.isfinite(speed):
            return UNKNOWN
        if speed < r.stopped_below:
            self.last_stop, state = t, STOPPED
        else:
            producing = speed >= r.running_from and (self.i_force is None or float(row[self.i_force]) >= r.force_from)
            state = RUNNING if producing and not t - self.last_stop < r.settle_s else RAMPING
        self.transitions.advance(time, t, state)
        return state


def stop_table(time: pd.DatetimeIndex, states: np.ndarray, segments: np.ndarray, rule: StateRule) -> pd.DataFrame:
    """Every stop (a run of stopped steps, unknown steps inside it ignored): when, how long,
    how long the press had run before it, the state it stopped from, the segment (batch)
    before and after, and its kind: `unplanned` (as the tracker says), `batch change`,
    `set-up` (out of ramping, a shorter run or a slow ramp-down) or `end of data` (no restart
    seen)."""
    t = _seconds(time)
    idx = np.flatnonzero(states != UNKNOWN)
    s = states[idx]
    transitions = Transitions(rule)
    rows = []
    for k, i in enumerate(idx):
        stop = transitions.advance(time[i], t[i], int(s[k]))
        if stop is None:
            continue
        end = k
        while end + 1 < len(idx) and s[end + 1] == STOPPED:
            end += 1
        before = segments[idx[k - 1]] if k > 0 else segments[i]
        after = segments[idx[end + 1]] if end + 1 < len(idx) else segments[idx[end]]
        if end + 1 == len(idx):
            kind = "end of data"  # no restart seen: planned or not, the data do not say
        elif before != after:
            kind = "batch change"
        else:
            kind = "unplanned" if stop["unplanned"] else "set-up"
        rows.append({"start": time[i], "end": time[idx[end]], "duration_s": t[idx[end]] - t[i], "ran_s": stop["ran_s"],
                     "from_state": NAMES[int(s[k - 1])] if k > 0 else NAMES[UNKNOWN], "segment_before": int(before),
                     "segment_after": int(after), "kind": kind})
    return pd.DataFrame(rows, columns=STOP_COLUMNS)


def hours_in(states: np.ndarray, state: int, period_s: float) -> float:
    """Hours spent in `state` (steps times the grid period)."""
    return float((states == state).sum()) * period_s / 3600.0
