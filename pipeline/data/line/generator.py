"""Generator of 1 Hz continuous-manufacturing line data in the MSOM 2024 workbook layout.

Behaviour imitated (a GEA ConsiGma-type direct-compression line, as in the 2024 MSOM
Data-Driven Research Challenge): seven loss-in-weight (LiW) feeders dose API and
excipients into blender 1; a lubricant feeder joins before blender 2; blender 2 feeds the
tablet press. Each feeder's true mass flow fluctuates slowly around its setpoint (AR(1));
its net weight falls until a routine refill tops the hopper up, during which the feeder runs
volumetrically and over-feeds. The blenders are first-order lags with transport delays, so
upstream deviations reach the press 1-2 minutes later: the main compression force follows
the mass flow reaching the dies (fill density), the ejection force follows the lubricant
fraction. Quality data (tablet weight, thickness, hardness; API concentration) come at a
lower rate. Disturbances (feeder drifts, a blocked feeder, press stops preceded by punch
sticking) are planned up front and saved as ground truth with every refill.

Data are produced one chunk at a time with all filter states carried over, so memory does
not grow with the run's length and a run split into chunks equals the run in one piece.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy.signal import lfilter

from pipeline.contracts.line import EVENT_COLUMNS, PRESS_STOP, TIMESTAMP
from pipeline.data.line.stations import StationGenerator, station_groups


class DelayLag:
    """A transport delay followed by a first-order lag, streamed chunk by chunk."""

    def __init__(self, tau_s: float, delay_s: int, initial: float):
        self.a = math.exp(-1.0 / tau_s) if tau_s > 0 else 0.0
        self.buffer = np.full(int(delay_s), float(initial))
        self.zi = np.array([self.a * initial])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(self.buffer):
            joined = np.concatenate([self.buffer, x])
            x, self.buffer = joined[: len(x)], joined[len(x):]
        y, self.zi = lfilter([1.0 - self.a], [1.0, -self.a], x, zi=self.zi)
        return y


class AR1:
    """Stationary AR(1) noise with correlation time tau (s) and std sigma, streamed."""

    def __init__(self, tau_s: float, sigma: float, rng: np.random.Generator, shape: int):
        self.phi = math.exp(-1.0 / tau_s)
        self.gain = sigma * math.sqrt(1.0 - self.phi**2)
        self.rng = rng
        self.zi = (rng.normal(0.0, sigma, shape) * self.phi)[:, None]

    def __call__(self, n: int) -> np.ndarray:
        e = self.rng.normal(size=(len(self.zi), n))
        y, self.zi = lfilter([self.gain], [1.0, -self.phi], e, axis=1, zi=self.zi)
        return y


@dataclass
class Event:
    kind: str
    unit: str          # "PD<n>" or "press"
    start_s: int       # seconds from the start of the run
    end_s: int
    magnitude: float


def plan_events(cfg: DictConfig, total_s: int, rng: np.random.Generator) -> list[Event]:
    """Disturbances at random times: exponential gaps above a minimum in-control spacing."""
    ev = cfg.events
    kinds = ["feeder_drift", "blocked_feeder", PRESS_STOP]
    weights = np.array([float(ev[k].weight) for k in kinds])
    weights = weights / weights.sum()
    mean_gap = 3600.0 / float(ev.per_hour)
    events: list[Event] = []
    t = int(ev.warmup_s) + rng.exponential(max(mean_gap - float(ev.min_gap_s), 60.0))
    while True:
        kind = kinds[rng.choice(len(kinds), p=weights)]
        spec = ev[kind]
        duration = int(rng.integers(int(spec.duration_s[0]), int(spec.duration_s[1]) + 1))
        start = int(t)
        if kind == "feeder_drift":
            unit = f"PD{int(rng.choice(list(spec.feeders)))}"
            magnitude = float(rng.uniform(*spec.magnitude)) * float(rng.choice([-1.0, 1.0]))
            end = start + duration
        elif kind == "blocked_feeder":
            unit = f"PD{int(rng.choice(list(spec.feeders)))}"
            magnitude = float(spec.residual_flow) - 1.0
            end = start + duration
        else:  # the press stop's event starts with the sticking that leads to it
            unit = "press"
            magnitude = float(spec.precursor_rise)
            end = start + int(spec.precursor_s) + duration + int(cfg.dynamics.restart_s)
        if end >= total_s:
            return events
        events.append(Event(kind, unit, start, end, magnitude))
        t = end + float(ev.min_gap_s) + rng.exponential(max(mean_gap - float(ev.min_gap_s) - duration, 60.0))


class LineSimulator:
    """Streams the line's sheets chunk by chunk: `for sheets in sim.chunks(): ...`."""

    def __init__(self, cfg: DictConfig, seed: int):
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.total_s = int(round(float(cfg.hours) * 3600 / float(cfg.period_s)))
        self.start = pd.Timestamp(cfg.start)
        self.events = plan_events(cfg, self.total_s, self.rng)
        self.refills: list[Event] = []
        fd = cfg.feeders
        self.n = np.array([int(f.n) for f in fd])
        self.setpoint = np.array([float(f.setpoint_kg_h) for f in fd])
        self.ff_full = np.array([float(f.feed_factor_g_rev) for f in fd])
        self.capacity = np.array([float(f.capacity_kg) for f in fd])
        self.lube = np.array([f.role == "lubricant" for f in fd])
        self.api = np.array([f.role == "API" for f in fd])
        rf = cfg.refill
        self.weight = self.capacity * self.rng.uniform(float(rf.low_frac) + 0.05, float(rf.high_frac), len(fd))
        self.refill_left = np.zeros(len(fd))      # seconds left in a running refill
        self.refill_rate = np.zeros(len(fd))      # kg/s added during it
        self.since_refill = np.full(len(fd), 1e9)  # seconds since the last refill ended
        dyn = cfg.dynamics
        self.flow_noise = AR1(float(dyn.flow_ar_tau_s), float(dyn.flow_ar_std), self.rng, len(fd))
        blend1 = self.setpoint[~self.lube].sum()
        api = self.setpoint[self.api].sum()
        lube = self.setpoint[self.lube].sum()
        d1, d2, dp = int(dyn.blender1_delay_s), int(dyn.blender2_delay_s), int(dyn.press_delay_s)
        t1, t2 = float(dyn.blender1_tau_s), float(dyn.blender2_tau_s)
        self.b1 = DelayLag(t1, d1, blend1)
        self.api1 = DelayLag(t1, d1, api)
        self.b2 = DelayLag(t2, d2, blend1 + lube)
        self.api2 = DelayLag(t2, d2, api)
        self.lube2 = DelayLag(t2, d2, lube)
        self.to_press = [DelayLag(0.0, dp, v) for v in (blend1 + lube, api, lube)]
        self.total_set, self.api_frac_set, self.lube_frac_set = blend1 + lube, api / (blend1 + lube), lube / (blend1 + lube)
        # Station values draw from their own stream, so the line without stations is unchanged.
        station_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        self.stations = StationGenerator(cfg, station_rng) if station_groups(cfg) else None

    # --- feeders -------------------------------------------------------------------------
    def _event_factors(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Relative flow deviation per feeder, rpm factor, press running factor, sticking."""
        n = len(t)
        flow_dev = np.zeros((len(self.n), n))
        rpm_factor = np.ones((len(self.n), n))
        running = np.ones(n)
        sticking = np.zeros(n)
        spec = self.cfg.events.press_stop
        restart = float(self.cfg.dynamics.restart_s)
        for e in self.events:
            if e.end_s < t[0] or e.start_s > t[-1]:
                continue
            if e.kind == PRESS_STOP:
                stop = e.start_s + int(spec.precursor_s)
                back = e.end_s - restart
                pre = (t >= e.start_s) & (t < stop)
                sticking[pre] = e.magnitude * (t[pre] - e.start_s) / float(spec.precursor_s)
                running[(t >= stop) & (t < back)] = 0.0
                ramp = (t >= back) & (t <= e.end_s)
                running[ramp] = np.minimum(running[ramp], (t[ramp] - back) / restart)
                continue
            i = int(np.flatnonzero(self.n == int(e.unit[2:]))[0])
            inside = (t >= e.start_s) & (t <= e.end_s)
            if e.kind == "feeder_drift":
                flow_dev[i, inside] += e.magnitude * (t[inside] - e.start_s) / (e.end_s - e.start_s)
            else:  # blocked: flow collapses, the gravimetric controller speeds the screw up
                flow_dev[i, inside] += e.magnitude
                rpm_factor[i, inside] = 1.4
        return flow_dev, rpm_factor, running, sticking

    def _refills(self, flow: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        """Net weight per second and the refill over-feed applied to `flow` (in place)."""
        rf = self.cfg.refill
        low, high = float(rf.low_frac) * self.capacity, float(rf.high_frac) * self.capacity
        duration, over, tau = int(rf.duration_s), float(rf.overshoot), float(rf.recovery_tau_s)
        n = flow.shape[1]
        weight = np.empty_like(flow)
        for k in range(n):
            running = self.refill_left > 0
            boost = np.where(running, over, over * np.exp(-self.since_refill / tau))
            flow[:, k] *= 1.0 + boost
            self.weight += np.where(running, self.refill_rate, 0.0) - flow[:, k] / 3600.0
            self.refill_left = np.maximum(self.refill_left - 1, 0)
            ended = running & (self.refill_left == 0)
            self.since_refill = np.where(ended, 0.0, self.since_refill + 1.0)
            start = (~running) & (self.weight < low)
            if start.any():
                self.refill_left[start] = duration
                self.refill_rate[start] = (high[start] - self.weight[start]) / duration
                self.since_refill[start] = 1e9
                for i in np.flatnonzero(start):
                    self.refills.append(Event("refill", f"PD{self.n[i]}", t0 + k, t0 + k + duration, float(over)))
            weight[:, k] = self.weight
        return weight, self.refill_left > 0

    # --- chunks --------------------------------------------------------------------------
    def chunks(self, chunk_seconds: int) -> Iterator[dict[str, pd.DataFrame]]:
        for t0 in range(0, self.total_s, int(chunk_seconds)):
            yield self._chunk(np.arange(t0, min(t0 + int(chunk_seconds), self.total_s)))

    def _chunk(self, t: np.ndarray) -> dict[str, pd.DataFrame]:
        cfg, dyn, rng = self.cfg, self.cfg.dynamics, self.rng
        n = len(t)
        stamps = self.start + pd.to_timedelta(t * float(cfg.period_s), unit="s")
        flow_dev, rpm_factor, running, sticking = self._event_factors(t)
        flow = self.setpoint[:, None] * (1.0 + self.flow_noise(n) + flow_dev)
        flow = np.maximum(flow, 0.0)
        weight, _ = self._refills(flow, int(t[0]))
        fill = weight / self.capacity[:, None]
        ff = self.ff_full[:, None] * (1.0 - float(cfg.refill.ff_fill_gain) * (1.0 - np.clip(fill, 0, 1)))
        rpm = self.setpoint[:, None] * 1000.0 / 60.0 / ff * rpm_factor
        noise = lambda rel, shape=(n,): 1.0 + rng.normal(0.0, rel, shape)  # noqa: E731
        flow_meas = flow * noise(float(dyn.massflow_noise), flow.shape)
        rpm_meas = rpm * noise(float(dyn.rpm_noise), rpm.shape)
        ff_meas = flow_meas * 1000.0 / 60.0 / np.maximum(rpm_meas, 1e-9)
        weight_meas = weight + rng.normal(0.0, float(dyn.weight_noise_kg), weight.shape)

        into1 = flow[~self.lube].sum(axis=0)
        b1, api1 = self.b1(into1), self.api1(flow[self.api].sum(axis=0))
        lube_in = flow[self.lube].sum(axis=0)
        b2, api2, lube2 = self.b2(b1 + lube_in), self.api2(api1), self.lube2(lube_in)
        at_press, api_p, lube_p = (f(x) for f, x in zip(self.to_press, (b2, api2, lube2)))
        rel_flow = at_press / self.total_set - 1.0
        lube_rel = (lube_p / np.maximum(at_press, 1e-9)) / self.lube_frac_set - 1.0
        force = float(dyn.main_force_kN) * (1.0 + float(dyn.force_flow_gain) * rel_flow) * running
        ejection = float(dyn.ejection_force_N) * (1.0 + float(dyn.ejection_lube_gain) * lube_rel) * (1.0 + sticking) * running
        daily = np.sin(2 * np.pi * t * float(cfg.period_s) / 86400.0)

        sheets: dict[str, pd.DataFrame] = {}
        cols = cfg.feeder_columns
        for s, name in enumerate(cfg.sheets.feeders):
            frame = {TIMESTAMP: stamps}
            for i, f in enumerate(cfg.feeders):
                if int(f.sheet) != s:
                    continue
                frame[cols.rpm.format(n=f.n)] = rpm_meas[i]
                frame[cols.massflow.format(n=f.n)] = flow_meas[i]
                frame[cols.feed_factor.format(n=f.n)] = ff_meas[i]
                frame[cols.net_weight.format(n=f.n)] = weight_meas[i]
            sheets[name] = pd.DataFrame(frame)
        bn = float(dyn.blender_noise)
        speeds = list(dyn.blender_speeds_rpm)
        sheets[cfg.sheets.blenders] = pd.DataFrame({
            TIMESTAMP: stamps,
            "Massflow Blender 1": b1 * noise(bn),
            "Massflow Blender 2": b2 * noise(bn),
            "Speed Blender 1": speeds[0] * noise(float(dyn.speed_noise)),
            "Speed Blender 2": speeds[1] * noise(float(dyn.speed_noise)),
        })
        fn, sn = float(dyn.force_noise), float(dyn.speed_noise)
        signals = {  # noise-free press-level signals, which station channels follow
            "main_compression_force": force,
            "pre_compression_force": force * float(dyn.pre_force_ratio),
            "pre_compression_height_bottom": np.full(n, float(dyn.pre_height_mm)),
            "ejection_force_tablet": ejection,
            "Turret speed": float(dyn.turret_rpm) * running,
            "Filling Shoe M20M13 speed": float(dyn.fill_shoe_rpm) * running,
        }
        press = pd.DataFrame({
            TIMESTAMP: stamps,
            "main_compression_force": force * noise(fn),
            "pre_compression_force": signals["pre_compression_force"] * noise(fn),
            "pre_compression_height_bottom": float(dyn.pre_height_mm) + rng.normal(0, float(dyn.height_noise_mm), n),
            "ejection_force_tablet": ejection * noise(float(dyn.ejection_noise)),
            "Turret speed": signals["Turret speed"] * noise(sn),
            "Filling Shoe M20M13 speed": signals["Filling Shoe M20M13 speed"] * noise(sn),
        })
        sheets[cfg.sheets.press] = self._with_stations(press, signals)
        hum, temp, en = list(dyn.humidity_pct), list(dyn.temperature_C), float(dyn.env_noise)
        sheets[cfg.sheets.humidity] = pd.DataFrame({TIMESTAMP: stamps, "Relative Humidity": hum[0] + hum[1] * daily + rng.normal(0, en, n)})
        sheets[cfg.sheets.temperature] = pd.DataFrame({TIMESTAMP: stamps, "Room Temperature": temp[0] + temp[1] * daily + rng.normal(0, en, n)})
        sheets.update(self._quality(t, stamps, rel_flow, force, api_p / np.maximum(at_press, 1e-9), running))
        return sheets

    def _with_stations(self, press: pd.DataFrame, signals: dict[str, np.ndarray]) -> pd.DataFrame:
        if self.stations is None:
            return press
        signals = {**signals, "fill_depth": np.full(len(press), float(self.cfg.dynamics.fill_depth_mm))}
        return pd.concat([press, self.stations(signals)], axis=1)

    def _quality(self, t, stamps, rel_flow, force, api_frac, running) -> dict[str, pd.DataFrame]:
        q, dyn, rng = self.cfg.quality, self.cfg.dynamics, self.rng
        out = {}
        take = (t % int(q.tablets_every_s) == 0) & (running > 0.99)
        k, qn = int(take.sum()), float(q.noise)
        gain = float(dyn.force_flow_gain)
        out[self.cfg.sheets.tablets] = pd.DataFrame({
            TIMESTAMP: stamps[take],
            "Weight": float(q.weight_mg) * (1 + gain * rel_flow[take]) * (1 + rng.normal(0, qn, k)),
            "Thickness": float(q.thickness_mm) * (1 + 0.3 * gain * rel_flow[take]) * (1 + rng.normal(0, qn, k)),
            "Hardness": float(q.hardness_N) * (force[take] / float(dyn.main_force_kN)) * (1 + rng.normal(0, qn, k)),
        })
        take = (t % int(q.content_every_s) == 0) & (running > 0.99)
        k = int(take.sum())
        out[self.cfg.sheets.content] = pd.DataFrame({
            TIMESTAMP: stamps[take],
            "API Concentration": 100.0 * api_frac[take] / self.api_frac_set * (1 + rng.normal(0, qn, k)),
        })
        return out

    def events_frame(self) -> pd.DataFrame:
        """Disturbances (scored) and refills (routine), with absolute timestamps."""
        rows = []
        period = float(self.cfg.period_s)
        for e in [*self.events, *self.refills]:
            rows.append({"kind": e.kind, "unit": e.unit,
                         "start": self.start + pd.Timedelta(seconds=e.start_s * period),
                         "end": self.start + pd.Timedelta(seconds=e.end_s * period),
                         "start_s": e.start_s * period, "end_s": e.end_s * period,
                         "magnitude": e.magnitude, "scored": e.kind != "refill"})
        frame = pd.DataFrame(rows, columns=EVENT_COLUMNS[1:]).sort_values("start_s", kind="stable")
        frame.insert(0, "event_id", range(len(frame)))
        return frame.reset_index(drop=True)
