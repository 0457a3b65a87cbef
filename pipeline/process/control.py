"""Golden profile, control limits, early warnings with corrective recommendations, and their
score against the generator's ground-truth disturbances.

The warning rule is one streaming state machine (`EarlyWarning.update`, one step at a
time), used both by the stage on the test period and by the real-time replay, so the two
cannot disagree. It tells the press's operating state itself (pipeline/process/states.py,
the rule travels in the golden profile) and warns only in the states that have limits and
are configured to warn: never while the press is stopped, nor (by default) while it starts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.process.states import NAMES, RAMPING, RUNNING, StateRule, StateTracker

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
WARNING_COLUMNS = ["time", "state", "target", "direction", "forecast", "limit", "measured", "rec_actuator", "rec_action",
                   "rec_by", "rec_cause_z", "also", "recommendation"]
PROFILED_STATES = (NAMES[RUNNING], NAMES[RAMPING])  # states with a golden profile; stopped has none


@dataclass
class Golden:
    """Per channel: the golden value (median) and robust sigma of in-control steps.

    `center`/`sigma` are the running state's (the reference: figures, lead times, the live
    limits); `others` holds the other profiled states' (ramping), and `rule` how the state is
    told (None: every step counts as running, as for data without a speed channel)."""
    channels: list[str]
    center: np.ndarray   # median of in-control running steps, per channel
    sigma: np.ndarray    # robust std (MAD), per channel
    k: float
    others: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    rule: dict | None = None

    @property
    def lower(self) -> np.ndarray:
        return self.center - self.k * self.sigma

    @property
    def upper(self) -> np.ndarray:
        return self.center + self.k * self.sigma

    def profile(self, state: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(center, sigma) of a state, None where it has no profile (stopped, or too few steps)."""
        if state == NAMES[RUNNING]:
            return self.center, self.sigma
        return self.others.get(state)

    def as_dict(self) -> dict:
        return {"channels": self.channels, "center": self.center.tolist(), "sigma": self.sigma.tolist(), "k": self.k,
                "states": {n: {"center": c.tolist(), "sigma": s.tolist()} for n, (c, s) in self.others.items()},
                "rule": self.rule}

    @classmethod
    def from_dict(cls, d: dict) -> "Golden":
        others = {n: (np.asarray(v["center"], float), np.asarray(v["sigma"], float)) for n, v in d.get("states", {}).items()}
        return cls(list(d["channels"]), np.asarray(d["center"], float), np.asarray(d["sigma"], float), float(d["k"]),
                   others, d.get("rule"))


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


def golden_profile(values: np.ndarray, channels: list[str], mask: np.ndarray, k: float,
                   states: np.ndarray | None = None, rule: StateRule | None = None, min_steps: int = 30) -> Golden:
    """Golden values and robust sigmas of the steps in `mask`, per operating state when `states`
    (codes of pipeline/process/states.py) are given: the running profile is the reference; a
    state with fewer than `min_steps` steps gets no profile (and so no warnings)."""
    if states is None:
        center, sigma = robust_scale(values[mask], 0.0, 1e-6)  # a constant channel: any change is out
        return Golden(list(channels), center, sigma, float(k))
    running = mask & (states == RUNNING)
    if running.sum() < min_steps:
        raise ValueError(f"only {int(running.sum())} running steps before the test period: no golden profile "
                         "(check data.line.states against the data)")
    center, sigma = robust_scale(values[running], 0.0, 1e-6)
    others = {}
    ramping = mask & (states == RAMPING)
    if ramping.sum() >= min_steps:
        others[NAMES[RAMPING]] = robust_scale(values[ramping], 0.0, 1e-6)
    return Golden(list(channels), center, sigma, float(k), others, rule.as_dict() if rule else None)


def _effects(spec) -> dict[str, float]:
    """Actuators as {channel: sign}; a plain list means the sign is unknown (0)."""
    if isinstance(spec, dict):
        return {str(k): float(v) for k, v in spec.items()}
    return {str(k): 0.0 for k in spec}


@dataclass(frozen=True)
class WarningSettings:
    """The warning rule's knobs in steps (conf: model.process.warnings; kept in the ONNX
    metadata so that the replay runs the very rule the stage scored). The fields after
    actuator_z have defaults that give the rule without states or re-arming, so a model
    exported before them still loads."""
    horizon: int           # forecast horizon (steps) the rule watches
    debounce: int          # consecutive forecasts beyond a limit before a target warns
    refractory_steps: int  # quiet steps per target after it warned
    incident_steps: int    # a target warning this soon after the line's last warning joins that incident
    actuator_z: float      # deviation (sigmas) from which an actuator is named as the cause
    rearm_steps: int = 0   # after warning, a target warns again only once its forecast was this many steps
    rearm_sigma: float = 0.0  # ... inside its limits by this many sigmas (one long excursion: one alarm)
    states: tuple[str, ...] = (NAMES[RUNNING],)  # operating states in which the rule warns

    def __post_init__(self):
        object.__setattr__(self, "states", tuple(self.states))
        bad = [s for s in self.states if s not in PROFILED_STATES]
        if bad:
            raise ValueError(f"model.process.warnings.states: {bad} not among {list(PROFILED_STATES)} "
                             "(a stopped press has no limits)")

    @classmethod
    def from_config(cls, w: DictConfig, period_s: float) -> "WarningSettings":
        steps = lambda seconds: int(round(float(seconds) / period_s))  # noqa: E731
        return cls(int(w.horizon), int(w.debounce), steps(w.refractory_s), steps(w.incident_s), float(w.actuator_z),
                   steps(w.rearm_s), float(w.rearm_sigma), tuple(str(s) for s in w.states))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["states"] = list(self.states)
        return d


class EarlyWarning:
    """Raise a warning when a target's forecast is beyond a limit for `debounce` consecutive
    steps, and recommend acting on the actuator that deviates most from its golden value.

    Limits are those of the press's operating state at the step (told from `current` by the
    golden profile's state rule); in a state that does not warn (stopped, by default ramping)
    nothing is raised and the debounce restarts. A target that warned is disarmed in that
    direction until its forecast has been inside its limits, by `rearm_sigma` sigmas, for
    `rearm_steps` steps: a long excursion (a batch running off its golden value) is one alarm,
    however long, and across stops; an excursion the other way is a new one.

    One warning per incident: targets that cross within `incident_steps` of the line's last
    warning join that incident (one disturbance moves several CPPs; the operator gets one
    alarm, naming the target forecast farthest out and listing the others). Whether the
    warning came before the measurement crossed is what the scored lead time says.
    Unplanned stops the state rule sees are in `state_events`, apart from the warnings."""

    def __init__(self, golden: Golden, targets: list[str], actuators: dict[str, dict[str, float] | list[str]],
                 settings: WarningSettings):
        self.golden, self.targets, self.settings = golden, list(targets), settings
        idx = {c: i for i, c in enumerate(golden.channels)}
        self.t_idx = np.array([idx[t] for t in targets])
        self.tracker = StateTracker(StateRule.from_dict(golden.rule), golden.channels) if golden.rule else None
        # warned states' profiles: (center, sigma) of every channel, limits of the targets (hot path)
        self.profiles = {}
        for state in settings.states:
            prof = golden.profile(state)
            if prof is not None:
                c, s = prof
                lo, hi = c[self.t_idx] - golden.k * s[self.t_idx], c[self.t_idx] + golden.k * s[self.t_idx]
                self.profiles[state] = (c, s, lo, hi, settings.rearm_sigma * s[self.t_idx])
        # {target: [(channel index, sign of its effect; 0 = unknown, either)]}
        self.actuators = {t: [(idx[a], float(e)) for a, e in _effects(actuators.get(t, {})).items()] for t in targets}
        self.count = np.zeros(len(targets), dtype=int)
        self.quiet = np.zeros(len(targets), dtype=int)
        self.inside = np.zeros(len(targets), dtype=int)
        self.armed = np.ones((len(targets), 2), dtype=bool)  # per target: [low, high]
        self.since_warning = np.iinfo(np.int64).max // 2
        self.state = NAMES[RUNNING]

    @property
    def state_events(self) -> list[dict]:
        """Unplanned stops seen so far (time, event, ran_s)."""
        return self.tracker.events if self.tracker else []

    def update(self, time, forecast: np.ndarray, current: np.ndarray) -> list[dict]:
        """forecast: [targets] at the rule's horizon; current: [channels] now."""
        s = self.settings
        self.state = NAMES[self.tracker.update(time, current)] if self.tracker else NAMES[RUNNING]
        self.quiet = np.maximum(self.quiet - 1, 0)
        self.since_warning += 1
        profile = self.profiles.get(self.state)
        if profile is None:  # stopped, unknown, or a state that does not warn
            self.count[:] = 0
            return []
        center, sigma, lower, upper, band = profile
        high = forecast > upper
        self.count = np.where((forecast < lower) | high, self.count + 1, 0)
        self.inside = np.where((forecast >= lower + band) & (forecast <= upper - band), self.inside + 1, 0)
        self.armed[self.inside >= s.rearm_steps] = True
        side = high.astype(int)  # an excursion the other way is a new one: armed per direction
        armed = self.armed[np.arange(len(side)), side]
        firing = np.flatnonzero((self.count >= s.debounce) & (self.quiet == 0) & armed)
        if not len(firing):
            return []
        self.quiet[firing] = s.refractory_steps
        self.armed[firing, side[firing]] = False
        self.inside[firing] = 0
        joins = self.since_warning <= s.incident_steps
        self.since_warning = 0
        if joins:
            return []
        z = np.abs(forecast[firing] - center[self.t_idx[firing]]) / sigma[self.t_idx[firing]]
        j = int(firing[np.argmax(z)])
        also = [self.targets[i] for i in firing if i != j]
        return [self._warning(time, j, float(forecast[j]), current, also, profile)]

    def _warning(self, time, j: int, forecast: float, current: np.ndarray, also: list[str], profile) -> dict:
        g = self.golden
        center, sigma, lower, upper, _ = profile
        target = self.targets[j]
        direction = "low" if forecast < lower[j] else "high"
        rec = {"actuator": target, "action": "decrease" if direction == "high" else "increase",
               "by": float(center[self.t_idx[j]] - forecast), "cause_z": 0.0}
        best = None
        push = 1.0 if direction == "high" else -1.0
        for a, effect in self.actuators[target]:
            z = (current[a] - center[a]) / sigma[a]
            explains = effect == 0 or np.sign(z) * effect == push  # the deviation pushes the target this way
            if np.isfinite(z) and explains and abs(z) >= self.settings.actuator_z and (best is None or abs(z) > abs(best[1])):
                best = (a, z)
        if best is not None:
            a, z = best
            change = float(center[a] - current[a])
            rec = {"actuator": g.channels[a], "action": "increase" if change > 0 else "decrease",
                   "by": abs(change), "cause_z": float(z)}
        else:
            rec["by"] = abs(rec["by"])
        text = (f"{target} forecast {direction} ({forecast:.4g} vs {self.state} limits {lower[j]:.4g}.."
                f"{upper[j]:.4g}): {rec['action']} {rec['actuator']} by {rec['by']:.3g}")
        if also:
            text += f" (also forecast out: {', '.join(also)})"
        return {"time": pd.Timestamp(time), "state": self.state, "target": target, "direction": direction,
                "forecast": forecast, "limit": float(lower[j] if direction == "low" else upper[j]),
                "measured": float(current[self.t_idx[j]]), **{f"rec_{k}": v for k, v in rec.items()},
                "also": ";".join(also), "recommendation": text}


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
