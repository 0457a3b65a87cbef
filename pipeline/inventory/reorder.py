"""Forecast of the next days per chemical and lab with the selected models, and the reorder
recommendation: stock on hand, days of supply, reorder point = forecast use over the lead
time + safety stock (z at the service level x daily error sd x sqrt(lead time))."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from pipeline.contracts.inventory import LINEAR_FILE, LINEAR_INPUTS, LSTM_FILE, LSTM_INPUTS, SELECTION_FILE
from pipeline.core.onnx_io import read_metadata, session
from pipeline.inventory import baselines
from pipeline.inventory.features import SeriesSet, last_window


def predict_future(data: SeriesSet, selection: dict, models_dir: Path) -> np.ndarray:
    """[S, horizon] forecast in base units from each series' newest window, by selected model."""
    read_metadata(models_dir / LSTM_FILE, required=["features", "horizon"])
    return predict_with(data, selection, session(models_dir / LSTM_FILE), session(models_dir / LINEAR_FILE))


def predict_with(data: SeriesSet, selection: dict, lstm, linear) -> np.ndarray:
    """predict_future with open onnxruntime sessions (a service opens them once)."""
    cfg = selection["config"]
    w = last_window(data, int(cfg["seq_len"]))
    horizon, b = int(cfg["horizon"]), cfg["baselines"]
    chem, loc = data.chem_index[w.series], data.loc_index[w.series]
    out = {
        "seasonal_naive": baselines.seasonal_naive(w.x, horizon, int(b["season_days"])),
        "moving_average": baselines.moving_average(w.x, horizon, int(b["moving_average_days"])),
        "weekday_profile": baselines.weekday_profile(w.x, horizon, int(b["season_days"])),
    }
    feats = baselines.linear_features(w.x, int(b["linear_lags"]))
    out["linear"] = linear.run(None, dict(zip(LINEAR_INPUTS, (feats, chem))))[0]
    out["lstm"] = lstm.run(None, dict(zip(LSTM_INPUTS, (w.x, chem, loc))))[0]
    chosen = [selection["selected"][data.chemicals[c]] for c in chem]
    scaled = np.stack([out[m][i] for i, m in enumerate(chosen)])
    return scaled * data.scale[:, None]


@lru_cache(maxsize=8)
def _z(service_level: float) -> float:
    """The normal quantile of the service level (scipy's ppf costs a one-series request 0.1 ms; a
    service asks it for the same level every time)."""
    return float(norm.ppf(service_level))


def reorder_table(data: SeriesSet, forecast: np.ndarray, selection: dict, days: int,
                  lead_time: int, service_level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reorder recommendation per series, daily forecast per series) for the next `days`."""
    rows, daily = reorder_rows(data, forecast, selection, days, lead_time, service_level)
    return pd.DataFrame(rows), pd.DataFrame(daily)


def reorder_rows(data: SeriesSet, forecast: np.ndarray, selection: dict, days: int,
                 lead_time: int, service_level: float) -> tuple[list[dict], list[dict]]:
    """reorder_table's rows as plain records: one per series, and `days` per series in the same order."""
    horizon = forecast.shape[1]
    if not 1 <= days <= horizon:
        raise ValueError(f"--days must be between 1 and the model's horizon ({horizon}, model.inventory.horizon)")
    if not 1 <= lead_time <= horizon:
        raise ValueError(f"model.inventory.reorder.lead_time_days must be between 1 and horizon ({horizon})")
    if not 0.5 <= service_level < 1:
        raise ValueError(f"model.inventory.reorder.service_level must be in [0.5, 1), got {service_level}")
    z = _z(service_level)
    future = pd.date_range(data.dates[-1] + pd.Timedelta(days=1), periods=days, freq="D")
    rows, daily = [], []
    for s, (chem, loc) in enumerate(data.keys):
        f = np.clip(forecast[s], 0, None)
        sd = float(selection["error_sd_per_day"][f"{chem}|{loc}"])
        stock = float(data.stock[s, -1])
        mean_day = float(f[:days].mean())
        safety = float(z * sd * np.sqrt(lead_time))
        point = float(f[:lead_time].sum() + safety)
        reorder = stock <= point
        rows.append({"chemical": chem, "location": loc, "unit": data.base_unit[s],
                     "model": selection["selected"][chem], "stock_on_hand": stock,
                     "forecast_total": float(f[:days].sum()), "forecast_per_day": mean_day,
                     "days_of_supply": stock / mean_day if mean_day > 0 and stock > 0 else (0.0 if stock <= 0 else np.inf),
                     "lead_time_days": lead_time, "safety_stock": safety, "reorder_point": point,
                     "reorder_now": bool(reorder),
                     "order_quantity": max(0.0, point + float(f[:days].sum()) - stock) if reorder else 0.0,
                     "note": "stock negative in the log (withdrawals exceed recorded purchases)" if stock < 0 else ""})
        daily += [{"date": d.date().isoformat(), "chemical": chem, "location": loc, "unit": data.base_unit[s],
                   "forecast": float(v)} for d, v in zip(future, f[:days])]
    return rows, daily


def load_selection(models_dir: Path) -> dict:
    path = models_dir / SELECTION_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no trained inventory models; run `python -m pipeline.inventory` first")
    return json.loads(path.read_text())
