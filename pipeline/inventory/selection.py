"""Per-chemical metrics of every model, selection on the validation part, and the plain
statement of what beats seasonal naive on the test part."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.inventory.metrics import errors

NAIVE = "seasonal_naive"
# WAPE of forecasting zero every day, whatever the data: a model at or above it has no skill
# (on intermittent series a near-zero forecast "beats" naive without predicting anything).
ZERO_FORECAST_WAPE = 1.0
SKILL_MARGIN = 1e-3


def metric_table(actual: dict[str, np.ndarray], predictions: dict[str, dict[str, np.ndarray]],
                 chem_of_sample: dict[str, np.ndarray], chemicals: list[str]) -> pd.DataFrame:
    """Rows (split, model, chemical) with MAE, RMSE, WAPE, R^2 in base units, pooled over the
    chemical's labs, origins and horizons."""
    rows = []
    for split, by_model in predictions.items():
        for model, pred in by_model.items():
            for c, chem in enumerate(chemicals):
                mask = chem_of_sample[split] == c
                if mask.any():
                    rows.append({"split": split, "model": model, "chemical": chem,
                                 **errors(actual[split][mask], pred[mask])})
    return pd.DataFrame(rows)


def select(table: pd.DataFrame, metric: str) -> dict[str, str]:
    """Best model per chemical by `metric` on the validation part (naive when nothing is finite)."""
    val = table[(table["split"] == "val") & table[metric].notna()]
    chosen = {}
    for chem in table["chemical"].unique():
        part = val[val["chemical"] == chem]
        chosen[chem] = str(part.loc[part[metric].idxmin(), "model"]) if len(part) else NAIVE
    return chosen


def summary(table: pd.DataFrame, chosen: dict[str, str], metric: str = "wape") -> tuple[pd.DataFrame, list[str]]:
    """Per chemical on the test part: selected model, its metric, naive's, the best model's,
    the improvement over naive; and one plain sentence per chemical."""
    test = table[table["split"] == "test"].set_index(["chemical", "model"])[metric]
    rows, lines = [], []
    for chem, model in chosen.items():
        naive, sel = test.get((chem, NAIVE), np.nan), test.get((chem, model), np.nan)
        others = test.loc[chem].drop(NAIVE, errors="ignore").dropna()
        best = others.idxmin() if len(others) else None
        beats = bool(len(others) and others.min() < naive)
        skill = bool(np.isfinite(sel) and sel < ZERO_FORECAST_WAPE - SKILL_MARGIN) if metric == "wape" else True
        rows.append({"chemical": chem, "selected": model, f"selected_{metric}": sel, f"naive_{metric}": naive,
                     "improvement_vs_naive": 1 - sel / naive if naive and np.isfinite(naive) else np.nan,
                     "best_non_naive": best, "any_model_beats_naive": beats, "selected_has_skill": skill})
        if not beats:
            lines.append(f"{chem}: no model beats seasonal naive on the test part ({metric} {naive:.3f}); "
                         "usage is not predictable beyond its weekly pattern with these data.")
        elif not skill:
            lines.append(f"{chem}: no model has skill on the test part: the selected {model} ({metric} {sel:.3f}) "
                         f"is no better than forecasting zero every day ({metric} {ZERO_FORECAST_WAPE:.3f}); it beats "
                         f"seasonal naive ({naive:.3f}) only because naive repeats sporadic use on the wrong days. "
                         "Usage is not predictable with these data.")
        else:
            lines.append(f"{chem}: selected {model} ({metric} {sel:.3f}) vs seasonal naive {naive:.3f} "
                         f"({100 * (1 - sel / naive):+.1f}%); best on test: {best} ({others.min():.3f}).")
    return pd.DataFrame(rows), lines
