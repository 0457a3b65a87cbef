"""The presses of a plan through one scripted day: what they make, what they measure.

Each hour the presses get what a plan asks of that hour (room setpoints, units, a maintenance
flag per press). The presses may differ (a plant of several: each its own normal inputs, capacity
and maintenance time, and the setpoints of its own room). A press asked for a maintenance does it at the hour's start and makes its units
in the rest of the hour (maintenance_hours of it are lost); otherwise it makes them evenly over the
hour. It makes nothing while stopped or in an unscheduled maintenance, and those units are lost.
Pressure, speed and vibration run at their normal values plus the scripted drifts; a sample adds
seeded measurement noise. Prices are the day-ahead ones until a spike is announced.

Time is whole seconds since the day's first hour; `advance` integrates second by second (numpy),
so the day's record (units, maintenances, mean inputs while producing, setpoints, prices per
press and hour) does not depend on how often it is sampled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.contracts.press_signals import MEASURED
from pipeline.data.press.events import Event

HOUR = 3600


@dataclass
class HourPlan:
    """What a plan asks of one hour."""

    temperature_C: float | list[float]   # the room's; a plant of several rooms: per press (its room's)
    humidity_pct: float | list[float]
    units: list[int]          # per press
    maintenance: list[int]    # per press, 0 or 1
    version: int | None = None  # the plan version that asked; None: the day-ahead plan file


@dataclass
class Sample:
    """Every signal at one line time (seconds since the day's first hour)."""

    time_s: int
    inputs: dict[str, np.ndarray]   # measured P, S, V per press
    running: np.ndarray             # bool per press
    units: np.ndarray               # int per press, since the day's first hour
    maintenances: np.ndarray        # int per press
    prices: np.ndarray              # the day's prices as known at time_s

    def signals(self) -> dict[tuple[str, int | None], object]:
        """{(signal, press): value} in the contract's names (press None: the plant's prices)."""
        out: dict[tuple[str, int | None], object] = {}
        for k in range(len(self.running)):
            out.update({(s, k): float(self.inputs[s][k]) for s in MEASURED})
            out.update({("running", k): bool(self.running[k]), ("units", k): int(self.units[k]),
                        ("maintenances", k): int(self.maintenances[k])})
        out[("prices", None)] = [float(p) for p in self.prices]
        return out


@dataclass
class _Record:
    units: np.ndarray
    maintenance: np.ndarray
    producing_s: np.ndarray
    input_sums: dict[str, np.ndarray]
    temperature: np.ndarray
    humidity: np.ndarray
    version: list = field(default_factory=list)


class ScriptedPresses:
    def __init__(self, events: list[Event], prices: np.ndarray, normal: dict, presses: int,
                 max_per_hour, maintenance_hours, noise: dict[str, float], seed: int):
        """`normal` (each input's value), `max_per_hour` and `maintenance_hours`: one value for
        every press, or one per press."""
        self.events, self.day_ahead = events, np.asarray(prices, float)
        self.hours, self.presses = len(self.day_ahead), int(presses)
        K = self.presses
        self.normal = {s: np.broadcast_to(np.asarray(normal[s], float), (K,)).copy() for s in MEASURED}
        self.noise = {s: float(noise[s]) for s in MEASURED}
        self.max_per_hour = np.broadcast_to(np.asarray(max_per_hour, int), (K,)).copy()
        self.maintenance_s = np.round(np.broadcast_to(np.asarray(maintenance_hours, float), (K,)) * HOUR).astype(int)
        self.seed = int(seed)
        self.now = 0
        self.accrued = np.zeros(self.presses)        # units made so far, fractional
        self.maintenances = np.zeros(self.presses, int)
        self.pauses: list[list[tuple[int, int]]] = [[] for _ in range(self.presses)]
        self.plan: HourPlan | None = None
        self.hour = -1
        self._unscheduled = sorted((e for e in events if e.kind == "maintenance"), key=lambda e: e.start_s)
        K, H = self.presses, self.hours
        self.rec = _Record(np.zeros((K, H), int), np.zeros((K, H), int), np.zeros((K, H)),
                           {s: np.zeros((K, H)) for s in MEASURED}, np.full((K, H), np.nan), np.full((K, H), np.nan),
                           [None] * H)

    # the script
    def true_inputs(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Each measured input per press at seconds `t` ([presses, len(t)])."""
        out = {s: np.repeat(v[:, None], len(t), axis=1) for s, v in self.normal.items()}
        for e in self.events:
            if e.kind == "drift":
                span = max(e.end_s - e.start_s, 1e-9)
                out[e.signal][e.press] += (e.to - self.normal[e.signal][e.press]) * np.clip((t - e.start_s) / span, 0.0, 1.0)
        return out

    def running_at(self, t: np.ndarray) -> np.ndarray:
        run = np.ones((self.presses, len(t)), bool)
        for e in self.events:
            if e.kind == "stop":
                run[e.press] &= ~((t >= e.start_s) & (t < e.end_s))
        return run

    def prices_at(self, t: float) -> np.ndarray:
        """The day's prices as known at second t (spikes announced by then applied)."""
        prices = self.day_ahead.copy()
        for e in self.events:
            if e.kind == "price_spike" and e.start_s <= t:
                prices[e.hours[0]:e.hours[1] + 1] *= e.factor
        return prices

    @property
    def realised_prices(self) -> np.ndarray:
        return self.prices_at(math.inf)

    # the day
    @property
    def day_over(self) -> bool:
        return self.now >= self.hours * HOUR

    def start_hour(self, plan: HourPlan) -> None:
        """The hour beginning at `now` (a whole hour) runs `plan`; planned maintenance happens now."""
        if self.now % HOUR or self.now // HOUR != self.hour + 1:
            raise RuntimeError(f"start_hour at second {self.now}: hours start at whole hours, in order")
        h = self.hour = self.now // HOUR
        if len(plan.units) != self.presses or len(plan.maintenance) != self.presses:
            raise ValueError(f"hour {h}: a plan for {len(plan.units)} press(es), the line has {self.presses}")
        self.plan = plan
        self.rec.temperature[:, h], self.rec.humidity[:, h] = plan.temperature_C, plan.humidity_pct
        self.rec.version[h] = plan.version
        for k, b in enumerate(plan.maintenance):
            if b:
                self._maintain(k, self.now)

    def _maintain(self, k: int, at: int) -> None:
        self.maintenances[k] += 1
        self.rec.maintenance[k, min(at // HOUR, self.hours - 1)] += 1
        self.pauses[k].append((at, at + int(self.maintenance_s[k])))

    def _unscheduled_until(self, t: int) -> None:
        """The unscheduled maintenances that begin by second t, done (counted, their pause set)."""
        while self._unscheduled and self._unscheduled[0].start_s <= t:
            e = self._unscheduled.pop(0)
            self._maintain(e.press, int(e.start_s))

    def advance(self, to_s: int) -> None:
        """Run the presses from `now` to second `to_s` (not past the current hour's end)."""
        to_s = int(to_s)
        if self.plan is None or to_s > (self.hour + 1) * HOUR or to_s < self.now:
            raise RuntimeError(f"advance to {to_s} from {self.now} in hour {self.hour}: start each hour first")
        self._unscheduled_until(to_s - 1)
        t = np.arange(self.now, to_s)
        if len(t):
            h = self.hour
            available = self.running_at(t)  # not stopped, not in a maintenance (planned ones start the hour)
            for k in range(self.presses):
                for a, b in self.pauses[k]:
                    available[k] &= ~((t >= a) & (t < b))
            asked = np.asarray(self.plan.units, float)
            producing = available & (asked > 0)[:, None]
            window = HOUR - self.maintenance_s * np.asarray(self.plan.maintenance)
            before = np.floor(self.accrued + 1e-6)
            rate = np.minimum(asked / np.maximum(window, 1), self.max_per_hour / HOUR)  # never above the press's pace
            self.accrued += rate * producing.sum(axis=1)
            self.rec.units[:, h] += (np.floor(self.accrued + 1e-6) - before).astype(int)
            self.rec.producing_s[:, h] += producing.sum(axis=1)
            inputs = self.true_inputs(t)
            for s in MEASURED:
                self.rec.input_sums[s][:, h] += (inputs[s] * producing).sum(axis=1)
        self.now = to_s

    def sample(self) -> Sample:
        """Every signal now, the measured inputs with their seeded noise."""
        self._unscheduled_until(self.now)
        rng = np.random.default_rng([self.seed, self.now])
        t = np.array([self.now])
        true = self.true_inputs(t)
        inputs = {s: true[s][:, 0] + self.noise[s] * rng.standard_normal(self.presses) for s in MEASURED}
        inputs["vibration_mm_s"] = np.maximum(inputs["vibration_mm_s"], 0.0)
        return Sample(self.now, inputs, self.running_at(t)[:, 0], np.floor(self.accrued + 1e-6).astype(int),
                      self.maintenances.copy(), self.prices_at(self.now))

    def record(self) -> pd.DataFrame:
        """One row per press and hour of the day so far: units, maintenances, seconds producing,
        the true inputs' means while producing (their hour's mean when idle), setpoints, prices."""
        rows = []
        prices = self.realised_prices
        for k in range(self.presses):
            for h in range(self.hours):
                secs = self.rec.producing_s[k, h]
                if secs > 0:
                    means = {s: self.rec.input_sums[s][k, h] / secs for s in MEASURED}
                else:
                    t = np.arange(h * HOUR, (h + 1) * HOUR, 60)
                    means = {s: float(v[k].mean()) for s, v in self.true_inputs(t).items()}
                rows.append({"press": k, "hour": h, "units": int(self.rec.units[k, h]),
                             "maintenance": int(self.rec.maintenance[k, h]), "producing_s": float(secs), **means,
                             "temperature_C": self.rec.temperature[k, h], "humidity_pct": self.rec.humidity[k, h],
                             "price_usd_per_mwh": prices[h], "plan_version": self.rec.version[h]})
        return pd.DataFrame(rows)


def hour_plan_from_table(table: pd.DataFrame, hour: int, version: int | None = None) -> HourPlan:
    """Hour `hour` of a plan table (contracts.press_signals.read_plan)."""
    rows = table[table["hour"] == hour].sort_values("press")
    if rows.empty:
        raise ValueError(f"the plan has no hour {hour}")
    if "room" in rows.columns and rows["room"].nunique() > 1:  # several rooms: each press its room's setpoints
        T, H = [float(v) for v in rows["temperature_C"]], [float(v) for v in rows["humidity_pct"]]
    else:
        T, H = float(rows["temperature_C"].iloc[0]), float(rows["humidity_pct"].iloc[0])
    return HourPlan(T, H, [int(u) for u in rows["units"]], [int(b) for b in rows["maintenance"]], version)


def steps(sim: ScriptedPresses, tick_s: int, start_s: int = 0, end_s: int | None = None):
    """Drive `sim` from its current second to `end_s` (default: the day's end) in ticks of `tick_s`,
    yielding ("hour", h) where hour h begins (the caller then calls sim.start_hour with its plan)
    and ("sample", t) at every tick from `start_s` on, the day's last second included (the caller
    samples; before `start_s` the day runs unobserved)."""
    end_s = sim.hours * HOUR if end_s is None else int(end_s)
    tick_s = int(tick_s)
    if tick_s <= 0 or HOUR % tick_s:
        raise ValueError(f"replan.line.tick_s = {tick_s}: allowed a whole number of seconds > 0 that divides 3600")
    while True:
        if sim.now < sim.hours * HOUR and sim.now % HOUR == 0 and sim.now // HOUR == sim.hour + 1:
            yield "hour", sim.now // HOUR
        if sim.now >= start_s and sim.now % tick_s == 0:
            yield "sample", sim.now
        if sim.now >= end_s:
            return
        sim.advance(min(sim.now + tick_s - sim.now % tick_s, (sim.hour + 1) * HOUR, end_s))


def run_day(sim: ScriptedPresses, hour_plan, tick_s: int, on_sample=None, start_s: int = 0, end_s: int | None = None) -> None:
    """`steps` in one process: each hour runs `hour_plan(hour)` (an HourPlan), each tick's signals
    go to `on_sample(sample)`."""
    for kind, when in steps(sim, tick_s, start_s, end_s):
        if kind == "hour":
            sim.start_hour(hour_plan(when))
        elif on_sample is not None:
            on_sample(sim.sample())
