"""Per swept cost: profit, penalty, energy and maintenance cost against the scale (the study's
Figs. 5-7), as a PNG and as a CSV for `dvc plots`."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.core.figures import save_figure  # noqa: E402
from pipeline.core.validation import DataValidationError  # noqa: E402


PROVEN = "solve.optimal"  # the optimiser's flag: the point's schedule is proven optimal (gap target met)


def proven(table: pd.DataFrame) -> pd.Series:
    """Completed points whose schedule is proven optimal; a point stopped by its time limit is not."""
    flag = table[PROVEN] == 1 if PROVEN in table.columns else pd.Series(True, index=table.index)
    return (table["status"] == "COMPLETED") & flag


def curves_frame(table: pd.DataFrame, cost: str, curves: dict[str, str], source: str,
                 only_proven: bool = True) -> pd.DataFrame:
    """scale + one column per curve (named by its label's key) for the completed points of `cost`:
    only the proven-optimal ones, or (only_proven=False) only the others."""
    done = proven(table) if only_proven else (table["status"] == "COMPLETED") & ~proven(table)
    rows = table[(table["cost"] == cost) & done]
    missing = [key for key in curves.values() if key not in table.columns]
    if missing:
        raise DataValidationError(source, f"optimiser metrics lack {missing} (conf/sweep `curves`); "
                                  f"found {sorted(c for c in table.columns if c not in ('job', 'cost'))}")
    frame = rows[["scale", *curves.values()]].rename(columns={v: k for k, v in curves.items()})
    return frame.sort_values("scale").reset_index(drop=True)


def plot_curves(frame: pd.DataFrame, cost: str, path: Path, unproven: pd.DataFrame | None = None) -> Path:
    """One panel per curve; points not proven optimal (time limit) are crosses beside the curve."""
    labels = [c for c in frame.columns if c != "scale"]
    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 3.0), squeeze=False)
    for ax, label in zip(axes[0], labels):
        ax.plot(frame["scale"], frame[label], marker="o")
        if unproven is not None and not unproven.empty:
            ax.plot(unproven["scale"], unproven[label], "x", color="tab:red", label="not proven optimal (left out)")
            ax.legend(fontsize=7)
        ax.set_title(label.replace("_", " "))
        ax.set_xlabel(f"{cost} cost scale")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("USD over the horizon")
    fig.suptitle(f"Sensitivity to the {cost} cost")
    fig.tight_layout()
    sentence = (f"{', '.join(l.replace('_', ' ') for l in labels)} of the optimised schedule as the {cost} "
                f"cost is scaled from {frame['scale'].min():g}x to {frame['scale'].max():g}x, other costs at baseline.")
    return save_figure(fig, path, sentence)
