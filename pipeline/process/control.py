"""Golden profile, control limits, early warnings with corrective recommendations, and their
score against the generator's ground-truth disturbances.

The warning rule is one streaming state machine (`EarlyWarning.update`, one step at a
time), used both by the stage on the test period and by the real-time replay, so the two
cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass
class Golden:
    channels: list[str]
    center: np.ndarray   # median of in-control steps, per channel
    sigma: np.ndarray    # robust std (MAD), per channel
    k: float

    @property
    def lower(self) -> np.ndarray:
        return self.center - self.k * self.sigma

    @property
    def upper(self) -> np.ndarray:
        return self.center + self.k * self.sigma

    def as_dict(self) -> dict:
        return {"channels": self.channels, "center": self.center.tolist(), "sigma": self.sigma.tolist(), "k": self.k}

    @classmethod
    def from_dict(cls, d: dict) -> "Golden":
        return cls(list(d["channels"]), np.asarray(d["center"], float), np.asarray(d["sigma"], float), float(d["k"]))


def in_control_mask(time: pd.DatetimeIndex, events: pd.DataFrame, margin_s: float) -> np.ndarray:
    """Steps farther than margin_s from every known disturbance."""
    ok = np.ones(len(time), dtype=bool)
    margin = pd.Timedelta(seconds=margin_s)
    for start, end in zip(events.get("start", []), events.get("end", [])):
        ok &= ~((time >= start - margin) & (time <= end + margin))
    return ok


def golden_profile(values: np.ndarray, channels: list[str], mask: np.ndarray, k: float) -> Golden:
    chosen = values[mask]
    center = np.nanmedian(chosen, axis=0)
    sigma = MAD_TO_SIGMA * np.nanmedian(np.abs(chosen - center), axis=0)
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nanstd(chosen, axis=0))
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1e-6)  # a constant channel: any change is out
    return Golden(list(channels), center, sigma, float(k))


def _effects(spec) -> dict[str, float]:
    """Actuators as {channel: sign}; a plain list means the sign is unknown (0)."""
    if isinstance(spec, dict):
        return {str(k): float(v) for k, v in spec.items()}
    return {str(k): 0.0 for k in spec}


class EarlyWarning:
    """Raise a warning when a target's forecast is beyond a limit for `debounce` consecutive
    steps while its measurement is still inside (so the warning comes before the excursion);
    recommend acting on the actuator that deviates most from its golden value."""

    def __init__(self, golden: Golden, targets: list[str], actuators: dict[str, dict[str, float] | list[str]],
                 debounce: int, refractory_steps: int, actuator_z: float):
        self.golden, self.targets = golden, list(targets)
        idx = {c: i for i, c in enumerate(golden.channels)}
        self.t_idx = np.array([idx[t] for t in targets])
        # {target: [(channel index, sign of its effect; 0 = unknown, either)]}
        self.actuators = {t: [(idx[a], float(e)) for a, e in _effects(actuators.get(t, {})).items()] for t in targets}
        self.debounce, self.refractory, self.z = int(debounce), int(refractory_steps), float(actuator_z)
        self.count = np.zeros(len(targets), dtype=int)
        self.quiet = np.zeros(len(targets), dtype=int)

    def update(self, time, forecast: np.ndarray, current: np.ndarray) -> list[dict]:
        """forecast: [targets] at the configured horizon; current: [channels] now."""
        g, out = self.golden, []
        lo, hi = g.lower[self.t_idx], g.upper[self.t_idx]
        measured = current[self.t_idx]
        beyond = (forecast < lo) | (forecast > hi)
        inside = (measured >= lo) & (measured <= hi)
        self.count = np.where(beyond & inside, self.count + 1, 0)
        self.quiet = np.maximum(self.quiet - 1, 0)
        for j in np.flatnonzero((self.count >= self.debounce) & (self.quiet == 0)):
            self.quiet[j] = self.refractory
            out.append(self._warning(time, j, float(forecast[j]), float(measured[j]), current))
        return out

    def _warning(self, time, j: int, forecast: float, measured: float, current: np.ndarray) -> dict:
        g = self.golden
        target = self.targets[j]
        direction = "low" if forecast < g.lower[self.t_idx[j]] else "high"
        rec = {"actuator": target, "action": "decrease" if direction == "high" else "increase",
               "by": float(g.center[self.t_idx[j]] - forecast), "cause_z": 0.0}
        best = None
        push = 1.0 if direction == "high" else -1.0
        for a, effect in self.actuators[target]:
            z = (current[a] - g.center[a]) / g.sigma[a]
            explains = effect == 0 or np.sign(z) * effect == push  # the deviation pushes the target this way
            if np.isfinite(z) and explains and abs(z) >= self.z and (best is None or abs(z) > abs(best[1])):
                best = (a, z)
        if best is not None:
            a, z = best
            change = float(g.center[a] - current[a])
            rec = {"actuator": g.channels[a], "action": "increase" if change > 0 else "decrease",
                   "by": abs(change), "cause_z": float(z)}
        else:
            rec["by"] = abs(rec["by"])
        text = (f"{target} forecast {direction} ({forecast:.4g} vs limits {g.lower[self.t_idx[j]]:.4g}.."
                f"{g.upper[self.t_idx[j]]:.4g}): {rec['action']} {rec['actuator']} by {rec['by']:.3g}")
        return {"time": pd.Timestamp(time), "target": target, "direction": direction, "forecast": forecast,
                "measured": measured, **{f"rec_{k}": v for k, v in rec.items()}, "recommendation": text}


def outside_limits(time: pd.DatetimeIndex, values: np.ndarray, golden: Golden, targets: list[str]) -> pd.DataFrame:
    """Per step and target: whether the measurement is outside its limits."""
    idx = [golden.channels.index(t) for t in targets]
    y = values[:, idx]
    return pd.DataFrame((y < golden.lower[idx]) | (y > golden.upper[idx]), index=time, columns=list(targets))


def score_warnings(warnings: pd.DataFrame, events: pd.DataFrame, outside: pd.DataFrame,
                   period: tuple[pd.Timestamp, pd.Timestamp], before_s: float, after_s: float) -> tuple[dict, pd.DataFrame]:
    """Recall, lead times and false alarms per in-control hour over `period` (the test).

    An event is detected by any warning from `before_s` ahead of its start to `after_s`
    after its end. Its lead time is how long before the warned target's measurement first
    left its limits (within the event's window) the first warning came: negative when the
    measurement was out first. Warnings outside every event's window are false alarms."""
    t0, t1 = period
    before, after = pd.Timedelta(seconds=before_s), pd.Timedelta(seconds=after_s)
    ev = events[(events.start >= t0) & (events.end <= t1)].reset_index(drop=True) if len(events) else events
    times = pd.DatetimeIndex(warnings["time"]) if len(warnings) else pd.DatetimeIndex([])
    matched = np.zeros(len(times), dtype=bool)
    rows = []
    covered = pd.Timedelta(0)
    for _, e in ev.iterrows():
        lo, hi = e.start - before, e.end + after
        covered += hi - lo
        hit = (times >= lo) & (times <= hi)
        matched |= hit
        first = times[hit].min() if hit.any() else pd.NaT
        inside = (outside.index >= e.start) & (outside.index <= hi)
        if hit.any():
            channel = outside[warnings["target"].to_numpy()[hit][np.argmin(times[hit])]]
        else:
            channel = outside.any(axis=1)
        crossing = channel[inside & channel.to_numpy()]
        t_cross = crossing.index[0] if len(crossing) else pd.NaT
        lead = (t_cross - first).total_seconds() if (hit.any() and pd.notna(t_cross)) else np.nan
        rows.append({"kind": e.kind, "unit": e.unit, "start": e.start, "end": e.end, "detected": bool(hit.any()),
                     "first_warning": first, "first_crossing": t_cross, "lead_s": lead})
    table = pd.DataFrame(rows, columns=["kind", "unit", "start", "end", "detected", "first_warning", "first_crossing", "lead_s"])
    in_control_h = max(((t1 - t0) - covered).total_seconds() / 3600.0, 1e-9)
    false = int((~matched).sum())
    leads = table.lead_s.dropna()
    metrics = {
        "events": len(table), "detected": int(table.detected.sum()) if len(table) else 0,
        "recall": float(table.detected.mean()) if len(table) else float("nan"),
        "median_lead_s": float(leads.median()) if len(leads) else float("nan"),
        "events_without_crossing": int(table.first_crossing.isna().sum()) if len(table) else 0,
        # events that took a target outside its limits: the ones an early warning can anticipate
        "recall_of_crossing_events": float(table[table.first_crossing.notna() | table.detected].detected.mean())
        if len(table) else float("nan"),
        "warnings": int(len(times)), "false_alarms": false, "in_control_hours": in_control_h,
        "false_alarms_per_hour": false / in_control_h,
        "recall_by_kind": table.groupby("kind").detected.mean().to_dict() if len(table) else {},
    }
    return metrics, table
