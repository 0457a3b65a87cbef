"""Forecast errors in base units. WAPE (sum |error| / sum |actual|) rather than MAPE, which is
undefined on the many zero-use days."""
from __future__ import annotations

import numpy as np


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    a, p = np.asarray(actual, float).ravel(), np.asarray(predicted, float).ravel()
    e = p - a
    total = np.abs(a).sum()
    ss_tot = ((a - a.mean()) ** 2).sum()
    return {
        "mae": float(np.abs(e).mean()),
        "rmse": float(np.sqrt((e ** 2).mean())),
        "wape": float(np.abs(e).sum() / total) if total > 0 else float("nan"),
        "r2": float(1 - (e ** 2).sum() / ss_tot) if ss_tot > 0 else float("nan"),
        "n": int(a.size),
    }
