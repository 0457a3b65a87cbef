"""Figures of the inventory stage (matplotlib, Agg): forecast against actual per chemical."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.core.figures import save_figure  # noqa: E402


def forecast_vs_actual(frame: pd.DataFrame, chemical: str, unit: str, selected: str, path: Path) -> Path:
    """Daily use of one chemical (all labs) on the test part: actual, selected model and
    seasonal naive, each one day ahead."""
    part = frame[frame["chemical"] == chemical].groupby("date")[["actual", "selected", "seasonal_naive"]].sum()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(part.index, part["actual"], color="black", lw=1.2, label="actual")
    ax.plot(part.index, part["selected"], color="tab:blue", lw=1.2, label=f"selected: {selected}")
    if selected != "seasonal_naive":
        ax.plot(part.index, part["seasonal_naive"], color="tab:orange", lw=0.9, ls="--", label="seasonal naive")
    ax.set_title(f"{chemical}: daily use, test part, 1 day ahead")
    ax.set_ylabel(f"use per day ({unit})")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    baseline = "" if selected == "seasonal_naive" else " and seasonal naive"
    return save_figure(fig, path, f"Daily use of {chemical} ({unit}, all labs) on the held-out test part: actual, "
                                  f"the selected model ({selected}){baseline}, each forecast one day ahead.")
