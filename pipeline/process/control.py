"""Golden profile, control limits, early warnings with corrective recommendations, and their
score against the generator's ground-truth disturbances.

The warning rule is one streaming state machine (`EarlyWarning.update`, one step at a
time), used both by the stage on the test period and by the real-time replay, so the two
cannot disagree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
WARNING_COLUMNS = ["time", "target", "direction", "forecast", "measured", "rec_actuator", "rec_action", "rec_by",
                   "rec_cause_z", "also", "recommendation"]


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


def robust_scale(values: np.ndarray, floor: float, default: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column: median, and 1.4826 * MAD (the std's robust twin); where that is not above
    `floor`, the std; where that is not either (a constant column), `default`."""
    center = np.nanmedian(values, axis=0)
    scale = MAD_TO_SIGMA * np.nanmedian(np.abs(values - center), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > floor), scale, np.nanstd(values, axis=0))
    scale = np.where(np.isfinite(scale) & (scale > floor), scale, default)
    return center, scale


def golden_profile(values: np.ndarray, channels: list[str], mask: np.ndarray, k: float) -> Golden:
    center, sigma = robust_scale(values[mask], 0.0, 1e-6)  # a constant channel: any change is out
    return Golden(list(channels), center, sigma, float(k))


def _effects(spec) -> dict[str, float]:
    """Actuators as {channel: sign}; a plain list means the sign is unknown (0)."""
    if isinstance(spec, dict):
        return {str(k): float(v) for k, v in spec.items()}
    return {str(k): 0.0 for k in spec}


@dataclass(frozen=True)
class WarningSettings:
    """The warning rule's knobs in steps (conf: model.process.warnings; kept in the ONNX
    metadata so that the replay runs the very rule the stage scored)."""
    horizon: int           # forecast horizon (steps) the rule watches
    debounce: int          # consecutive forecasts beyond a limit before a target warns
    refractory_steps: int  # quiet steps per target after it warned
    incident_steps: int    # a target warning this soon after the line's last warning joins that incident
    actuator_z: float      # deviation (sigmas) from which an actuator is named as the cause

    @classmethod
    def from_config(cls, w: DictConfig, period_s: float) -> "WarningSettings":
        steps = lambda seconds: int(round(float(seconds) / period_s))  # noqa: E731
        return cls(int(w.horizon), int(w.debounce), steps(w.refractory_s), steps(w.incident_s), float(w.actuator_z))

    def as_dict(self) -> dict:
        return asdict(self)


class EarlyWarning:
    """Raise a warning when a target's forecast is beyond a limit for `debounce` consecutive
    steps, and recommend acting on the actuator that deviates most from its golden value.

    One warning per incident: targets that cross within `incident_steps` of the line's last
    warning join that incident (one disturbance moves several CPPs; the operator gets one
    alarm, naming the target forecast farthest out and listing the others). Whether the
    warning came before the measurement crossed is what the scored lead time says."""

    def __init__(self, golden: Golden, targets: list[str], actuators: dict[str, dict[str, float] | list[str]],
                 settings: WarningSettings):
        self.golden, self.targets, self.settings = golden, list(targets), settings
        idx = {c: i for i, c in enumerate(golden.channels)}
        self.t_idx = np.array([idx[t] for t in targets])
        self.lower, self.upper = golden.lower[self.t_idx], golden.upper[self.t_idx]  # per step otherwise
        # {target: [(channel index, sign of its effect; 0 = unknown, either)]}
        self.actuators = {t: [(idx[a], float(e)) for a, e in _effects(actuators.get(t, {})).items()] for t in targets}
        self.count = np.zeros(len(targets), dtype=int)
        self.quiet = np.zeros(len(targets), dtype=int)
        self.since_warning = np.iinfo(np.int64).max // 2

    def update(self, time, forecast: np.ndarray, current: np.ndarray) -> list[dict]:
        """forecast: [targets] at the rule's horizon; current: [channels] now."""
        g, s = self.golden, self.settings
        self.count = np.where((forecast < self.lower) | (forecast > self.upper), self.count + 1, 0)
        self.quiet = np.maximum(self.quiet - 1, 0)
        self.since_warning += 1
        firing = np.flatnonzero((self.count >= s.debounce) & (self.quiet == 0))
        if not len(firing):
            return []
        self.quiet[firing] = s.refractory_steps
        joins = self.since_warning <= s.incident_steps
        self.since_warning = 0
        if joins:
            return []
        z = np.abs(forecast[firing] - g.center[self.t_idx[firing]]) / g.sigma[self.t_idx[firing]]
        j = int(firing[np.argmax(z)])
        also = [self.targets[i] for i in firing if i != j]
        return [self._warning(time, j, float(forecast[j]), float(current[self.t_idx[j]]), current, also)]

    def _warning(self, time, j: int, forecast: float, measured: float, current: np.ndarray, also: list[str]) -> dict:
        g = self.golden
        target = self.targets[j]
        direction = "low" if forecast < self.lower[j] else "high"
        rec = {"actuator": target, "action": "decrease" if direction == "high" else "increase",
               "by": float(g.center[self.t_idx[j]] - forecast), "cause_z": 0.0}
        best = None
        push = 1.0 if direction == "high" else -1.0
        for a, effect in self.actuators[target]:
            z = (current[a] - g.center[a]) / g.sigma[a]
            explains = effect == 0 or np.sign(z) * effect == push  # the deviation pushes the target this way
            if np.isfinite(z) and explains and abs(z) >= self.settings.actuator_z and (best is None or abs(z) > abs(best[1])):
                best = (a, z)
        if best is not None:
            a, z = best
            change = float(g.center[a] - current[a])
            rec = {"actuator": g.channels[a], "action": "increase" if change > 0 else "decrease",
                   "by": abs(change), "cause_z": float(z)}
        else:
            rec["by"] = abs(rec["by"])
        text = (f"{target} forecast {direction} ({forecast:.4g} vs limits {self.lower[j]:.4g}.."
                f"{self.upper[j]:.4g}): {rec['action']} {rec['actuator']} by {rec['by']:.3g}")
        if also:
            text += f" (also forecast out: {', '.join(also)})"
        return {"time": pd.Timestamp(time), "target": target, "direction": direction, "forecast": forecast,
                "measured": measured, **{f"rec_{k}": v for k, v in rec.items()}, "also": ";".join(also),
                "recommendation": text}


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
    measurement was out first. Warnings outside every event's window are false alarms.

    Only events wholly inside the period are scored. One whose window only overlaps it (it
    began before the test period or ends after it) is not: the warnings it draws are not
    false alarms and its window is not in-control time."""
    t0, t1 = period
    before, after = pd.Timedelta(seconds=before_s), pd.Timedelta(seconds=after_s)
    times = pd.DatetimeIndex(warnings["time"]) if len(warnings) else pd.DatetimeIndex([])
    matched = np.zeros(len(times), dtype=bool)
    covered = pd.Timedelta(0)
    if len(events):
        whole = (events.start >= t0) & (events.end <= t1)
        overlaps = (events.start - before <= t1) & (events.end + after >= t0)
        ev = events[whole].reset_index(drop=True)
        straddling = events[overlaps & ~whole]
    else:
        ev = straddling = events
    for _, e in straddling.iterrows():
        lo, hi = max(e.start - before, t0), min(e.end + after, t1)
        covered += hi - lo
        matched |= (times >= lo) & (times <= hi)
    rows = []
    for _, e in ev.iterrows():
        lo, hi = e.start - before, e.end + after
        covered += min(hi, t1) - max(lo, t0)
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
        "events_straddling_period": int(len(straddling)),
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
