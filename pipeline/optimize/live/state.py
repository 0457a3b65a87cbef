"""What the planner knows of the plant: the latest value of every signal, the measured press inputs
of the last `smoothing_s` (their mean is what a prediction uses: noise does not re-plan) and
their mean per hour (the past hours' inputs), counters at each hour's start.

Time is line seconds since the day's first hour (the signals' SourceTimestamp less the day's start).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from pipeline.contracts.press_signals import MEASURED, SampleLimits, judge_sample


class PlantState:
    def __init__(self, presses: int, hours: int, smoothing_s: float, limits: list[SampleLimits] | None = None):
        self.presses, self.hours, self.smoothing_s = presses, hours, float(smoothing_s)
        self.limits = limits or [None] * presses  # what each press can report (contracts/press_signals)
        self.window = [{s: deque() for s in MEASURED} for _ in range(presses)]
        self.hour_sum = {s: np.zeros((presses, hours)) for s in MEASURED}
        self.hour_n = {s: np.zeros((presses, hours)) for s in MEASURED}
        self.running: list[bool | None] = [None] * presses
        self.units: list[int | None] = [None] * presses
        self.maintenances: list[int | None] = [None] * presses
        self.prices: np.ndarray | None = None
        self.seen: dict[tuple[str, int | None], float] = {}  # (signal, press) -> line time of its newest sample

    def update(self, signal: str, press: int | None, value, t_s: float) -> str | None:
        """One sample (as OPC UA delivers it: one node at a time); why it is refused (it then
        changes nothing), or None."""
        value, why = judge_sample(signal, value, None if press is None else self.limits[press], self.hours)
        if why is not None:
            return why
        self.seen[(signal, press)] = max(t_s, self.seen.get((signal, press), -np.inf))
        if signal in MEASURED:
            window = self.window[press][signal]
            window.append((t_s, value))
            while window and window[0][0] < t_s - self.smoothing_s:
                window.popleft()
            h = int(t_s // 3600)
            if 0 <= h < self.hours:
                self.hour_sum[signal][press, h] += value
                self.hour_n[signal][press, h] += 1
        elif signal == "running":
            self.running[press] = value
        elif signal == "units":
            self.units[press] = value
        elif signal == "maintenances":
            self.maintenances[press] = value
        elif signal == "prices":
            self.prices = value
        return None

    def smoothed(self, press: int) -> dict[str, float] | None:
        """Mean of each measured input over the last smoothing_s; None until all have a sample."""
        out = {}
        for s in MEASURED:
            window = self.window[press][s]
            if not window:
                return None
            out[s] = float(np.mean([v for _, v in window]))
        return out

    def hourly_inputs(self, press: int, hours: int, fallback: dict[str, float]) -> dict[str, np.ndarray]:
        """Each measured input's mean per hour 0..hours-1 (`fallback` where an hour has no sample)."""
        out = {}
        for s in MEASURED:
            n = self.hour_n[s][press, :hours]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[s] = np.where(n > 0, self.hour_sum[s][press, :hours] / n, fallback[s])
        return out

    def complete(self) -> bool:
        """Has every press counter, state and price arrived at least once?"""
        return (self.prices is not None and None not in self.running and None not in self.units
                and None not in self.maintenances)
