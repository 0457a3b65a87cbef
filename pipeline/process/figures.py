"""Figures of the process stage (matplotlib, Agg): forecast against actual around the test
period's disturbances, and accuracy by horizon."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.core.figures import save_figure  # noqa: E402
from pipeline.process.control import Golden  # noqa: E402
from pipeline.process.states import NAMES  # noqa: E402


def forecast_vs_actual(path: Path, time: pd.DatetimeIndex, actual: np.ndarray, forecasts: dict[str, np.ndarray],
                       forecast_time: pd.DatetimeIndex, targets: list[str], golden: Golden, events: pd.DataFrame,
                       warnings: pd.DataFrame, window_s: float, n_events: int, horizon_s: float) -> Path | None:
    """One column per disturbance, one row per target: measurement, forecasts (placed at the
    time they forecast), limits, the disturbance and the warnings."""
    events = events.head(n_events)
    if events.empty:
        events = pd.DataFrame({"start": [forecast_time[len(forecast_time) // 2]], "end": [forecast_time[len(forecast_time) // 2]],
                               "kind": ["(no disturbance: middle of the test period)"]})
    fig, axes = plt.subplots(len(targets), len(events), figsize=(4.2 * len(events), 2.4 * len(targets)),
                             squeeze=False, sharex="col")
    half = pd.Timedelta(seconds=window_s / 2)
    shifted = forecast_time + pd.Timedelta(seconds=horizon_s)
    for c, (_, e) in enumerate(events.iterrows()):
        lo, hi = e.start - half / 2, e.end + half
        sel = (time >= lo) & (time <= hi)
        fsel = (shifted >= lo) & (shifted <= hi)
        for r, target in enumerate(targets):
            ax = axes[r, c]
            j = golden.channels.index(target)
            ax.plot(time[sel], actual[sel, r], color="black", lw=0.8, label="measured")
            for (name, f), color in zip(forecasts.items(), ["tab:blue", "tab:orange", "tab:green"]):
                ax.plot(shifted[fsel], f[fsel, r], color=color, lw=0.8, label=f"{name} (+{horizon_s:.0f} s)")
            ax.axhline(golden.lower[j], color="red", ls="--", lw=0.7)
            ax.axhline(golden.upper[j], color="red", ls="--", lw=0.7)
            ax.axvspan(e.start, e.end, color="red", alpha=0.1)
            if len(warnings):  # one warning per incident: solid where it names this target, dotted elsewhere
                w = warnings[(warnings.time >= lo) & (warnings.time <= hi)]
                for t, named in zip(w.time, w.target):
                    ax.axvline(t, color="purple", lw=1.0, ls="-" if named == target else ":")
            if c == 0:
                ax.set_ylabel(target, fontsize=7)
            if r == 0:
                ax.set_title(f"{e.kind} {getattr(e, 'unit', '')}", fontsize=8)
            ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6, loc="best")
    fig.suptitle("Forecast vs measured around disturbances (red band: disturbance, dashed: control limits, "
                 "purple: early warnings, solid on the target named)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, (
        f"Each critical process parameter around disturbances of the test period: the measurement, the LSTM's "
        f"and the linear AR's {horizon_s:g}-s forecasts (plotted at the time they forecast), the control limits "
        f"and the early warnings the LSTM raised."))


def mae_by_horizon(path: Path, table: pd.DataFrame) -> Path:
    targets = list(dict.fromkeys(table.target))
    fig, axes = plt.subplots(1, len(targets), figsize=(4 * len(targets), 3), squeeze=False)
    for ax, target in zip(axes[0], targets):
        sub = table[table.target == target]
        for model, g in sub.groupby("model", sort=False):
            ax.plot(g.horizon_s, g.mase, marker="o", label=model)
        ax.set_title(target, fontsize=8)
        ax.set_xlabel("horizon (s)")
        ax.set_ylabel("MASE (test)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, (
        "Forecast error (MASE: MAE over the training period's persistence MAE at the same horizon; below 1 beats "
        "persistence) of the LSTM and the baselines per target and horizon on the held-out test period."))


STATE_COLOURS = {0: ("0.75", "stopped"), 1: ("orange", "ramping")}  # running: no shading


def _state_spans(ax, time: pd.DatetimeIndex, states: np.ndarray) -> None:
    change = np.flatnonzero(np.diff(states.astype(int)) != 0) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(states)]
    for a, b in zip(starts, ends):
        if int(states[a]) in STATE_COLOURS:
            colour, _ = STATE_COLOURS[int(states[a])]
            ax.axvspan(time[a], time[min(b, len(time) - 1)], color=colour, alpha=0.35, lw=0)


def day_with_warnings(path: Path, data, golden: Golden, start: int, end: int, forecast_steps: np.ndarray,
                      forecast: np.ndarray, horizon_s: float, warnings: pd.DataFrame, stops: pd.DataFrame,
                      hours: float, warned_states: tuple[str, ...]) -> Path:
    """The first `hours` of the steps [start, end) (the first test batch): the press speed with
    its operating states, then per target the measurement, the deployed forecast (at the time it
    forecasts; only where it was made in a state that warns: elsewhere the rule ignores it), the
    limits of the state at each step (none while stopped), the warnings and the unplanned stops.
    Steps are picked by position: the time axis of several batches may step back between them."""
    stop = min(end, start + int(round(hours * 3600 / data.period_s)) + 1)
    sel = slice(start, stop)
    time, states = data.time[sel], data.states[sel]
    t0, t1 = time[0], time[-1]
    fig, axes = plt.subplots(1 + len(data.targets), 1, figsize=(12, 2.0 + 2.2 * len(data.targets)), sharex=True)
    rule = data.rule
    speed_name = rule.speed if rule else data.channels[0]
    axes[0].plot(time, data.values[sel, data.channels.index(speed_name)], color="black", lw=0.7)
    axes[0].set_ylabel(speed_name, fontsize=8)
    shifted = data.time[forecast_steps] + pd.Timedelta(seconds=horizon_s)
    fsel = (forecast_steps >= start) & (forecast_steps + round(horizon_s / data.period_s) < stop)
    origin = data.states[forecast_steps]
    used = np.isin(origin, [code for code, name in NAMES.items() if name in warned_states])
    forecast = np.where(used[:, None], forecast, np.nan)
    w = warnings[(warnings.time >= t0) & (warnings.time <= t1)] if len(warnings) else warnings
    unplanned = stops[(stops.kind == "unplanned") & (stops.start >= t0) & (stops.start <= t1)] if len(stops) else stops
    for ax in axes:
        _state_spans(ax, time, states)
        for t in unplanned.start if len(unplanned) else []:
            ax.axvline(t, color="red", lw=1.2, ls="-.")
    for r, target in enumerate(data.targets, start=1):
        ax = axes[r]
        j = data.channels.index(target)
        ax.plot(time, data.values[sel, j], color="black", lw=0.6, label="measured")
        ax.plot(shifted[fsel], forecast[fsel, r - 1], color="tab:blue", lw=0.6, label=f"deployed forecast (+{horizon_s:g} s)")
        for state in ("running", "ramping"):
            prof = golden.profile(state)
            if prof is None:
                continue
            code = 2 if state == "running" else 1
            c, s = prof
            lo = np.where(states == code, c[j] - golden.k * s[j], np.nan)
            hi = np.where(states == code, c[j] + golden.k * s[j], np.nan)
            ax.plot(time, lo, color="red", lw=0.8, ls="--" if state == "running" else ":")
            ax.plot(time, hi, color="red", lw=0.8, ls="--" if state == "running" else ":")
        for t, named in zip(w.time, w.target) if len(w) else []:
            ax.axvline(t, color="purple", lw=1.2, ls="-" if named == target else ":")
        ax.set_ylabel(target, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[1].legend(fontsize=7, loc="upper right")
    n_w = len(w)
    fig.suptitle(f"{t0:%Y-%m-%d %H:%M} + {(t1 - t0).total_seconds() / 3600:.1f} h of the test period: {n_w} warning(s) "
                 f"(purple), {len(unplanned)} unplanned stop(s) (red dash-dot); grey: stopped, orange: ramping; "
                 "red: limits of the step's state", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, (
        f"A day of the test period: the press speed with its operating states, each target's measurement and "
        f"deployed {horizon_s:g}-s forecast (where the rule uses it), the limits of the state the press is in (dashed running, dotted "
        f"ramping, none while stopped), the {n_w} warning(s) raised and the unplanned stops."))
