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
