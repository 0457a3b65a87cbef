"""Forecast accuracy per target and horizon: MAE, RMSE and MASE (MAE over the in-sample MAE
of persistence at the same horizon on the training period)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.process.baselines import ORDER


def naive_scale(y: np.ndarray, ends: np.ndarray, horizons: list[int]) -> np.ndarray:
    """[horizons, targets]: mean |y[t+h] - y[t]| over training windows."""
    return np.stack([np.abs(y[ends + h] - y[ends]).mean(axis=0) for h in horizons])


def score_table(predictions: dict[str, np.ndarray], truth: np.ndarray, scale: np.ndarray,
                targets: list[str], horizons_s: list[float]) -> pd.DataFrame:
    """One row per model, target and horizon. predictions/truth: [windows, horizons, targets]."""
    rows = []
    for model, pred in predictions.items():
        err = pred - truth
        mae = np.abs(err).mean(axis=0)
        rmse = np.sqrt((err**2).mean(axis=0))
        for k, hs in enumerate(horizons_s):
            for j, target in enumerate(targets):
                rows.append({"model": model, "target": target, "horizon_s": hs, "mae": mae[k, j],
                             "rmse": rmse[k, j], "mase": mae[k, j] / max(scale[k, j], 1e-12)})
    return pd.DataFrame(rows)


def compare(table: pd.DataFrame, horizon_s: float, model: str = "lstm") -> dict:
    """At one horizon: each target's MAE of `model` against the best baseline for that target."""
    at = table[table.horizon_s == horizon_s]
    out = {}
    for target, group in at.groupby("target", sort=False):
        mine = float(group[group.model == model].mae.iloc[0])
        base = group[group.model.isin(ORDER)].sort_values("mae").iloc[0]
        out[target] = {"mae": mine, "best_baseline": str(base.model), "best_baseline_mae": float(base.mae),
                       "improvement": 1.0 - mine / float(base.mae)}
    return out
