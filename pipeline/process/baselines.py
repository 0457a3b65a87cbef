"""Baselines on the same windows as the LSTM, in raw units: persistence, moving average and
a linear autoregressive model of each target's own history (direct, one fit per horizon).

The AR's level (`ar_level`): "window" fits it on deviations from the mean of its own lags and
adds that mean back (its weights sum to one, no intercept), so a batch running at a level the
training batches never had is forecast from its own level; "fitted" is the classic AR with an
intercept, whose forecast reverts toward the training batches' level (on the real press
series, 2-4 times the error of the level-free AR on a batch whose ejection force sits far
below the others').

Each is a linear filter over a target's last `width` values: forecast[h, j] =
sum_l weights[h, j, l] * y[t - width + 1 + l, j] + bias[h, j]. One definition serves the
scores (numpy, `predict`) and the deployed model (the same weights inside the ONNX graph:
pipeline/process/model.py), so the baseline a forecast is corrected from, or falls back to,
is the one that was scored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.settings.model_process import AR_LEVELS  # the names conf/ may choose

ORDER = ("persistence", "moving_average", "linear_ar")  # simplest first (selection prefers the simpler)


def windows(y: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """[windows, width, targets] of y[t-width+1..t] (gathered per window, so a gap elsewhere in
    a real series cannot leak NaN into it, as a running sum would)."""
    return y[ends[:, None] - np.arange(width)[::-1][None, :]]


@dataclass
class LinearFilter:
    name: str
    weights: np.ndarray   # [horizons, targets, width], oldest value first
    bias: np.ndarray      # [horizons, targets]

    @property
    def width(self) -> int:
        return self.weights.shape[-1]

    def predict(self, y: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """[windows, horizons, targets] for windows ending at `ends` of y [steps, targets]."""
        w = windows(y, ends, self.width).astype(np.float64)
        return np.einsum("nlt,htl->nht", w, self.weights) + self.bias[None]


def persistence(n_horizons: int, n_targets: int, width: int) -> LinearFilter:
    """The last value, for every horizon."""
    w = np.zeros((n_horizons, n_targets, width))
    w[..., -1] = 1.0
    return LinearFilter("persistence", w, np.zeros((n_horizons, n_targets)))


def moving_average(n_horizons: int, n_targets: int, width: int, k: int) -> LinearFilter:
    """The mean of the last k values, for every horizon."""
    w = np.zeros((n_horizons, n_targets, width))
    w[..., width - k:] = 1.0 / k
    return LinearFilter("moving_average", w, np.zeros((n_horizons, n_targets)))


def linear_ar(y: np.ndarray, ends: np.ndarray, horizons: list[int], width: int, lags: int,
              level: str = "fitted") -> LinearFilter:
    """y[t+h] = c + sum_i a_i y[t-i] per target and horizon, least squares on the windows `ends`
    (level "fitted"); level "window": y[t+h] - m = sum_i a_i (y[t-i] - m) with m the mean of the
    lags, i.e. weights a_i + (1 - sum a) / lags and no intercept."""
    if level not in AR_LEVELS:
        raise ValueError(f"model.process.baselines.ar_level must be one of {AR_LEVELS}, not {level!r}")
    ends = ends[ends >= lags - 1]
    w = np.zeros((len(horizons), y.shape[1], width))
    b = np.zeros((len(horizons), y.shape[1]))
    for j in range(y.shape[1]):
        lagged = windows(y[:, j:j + 1], ends, lags)[..., 0]
        mean = lagged.mean(axis=1)
        X = lagged - mean[:, None] if level == "window" else np.column_stack([lagged, np.ones(len(ends))])
        for k, h in enumerate(horizons):
            target = y[ends + h, j] - (mean if level == "window" else 0.0)
            coef = np.linalg.lstsq(X, target, rcond=None)[0]
            if level == "window":
                w[k, j, width - lags:] = coef + (1.0 - coef.sum()) / lags
            else:
                w[k, j, width - lags:], b[k, j] = coef[:-1], coef[-1]
    return LinearFilter("linear_ar", w, b)


def fit_all(y: np.ndarray, train_ends: np.ndarray, horizons: list[int], width: int, ma_k: int,
            ar_lags: int, ar_level: str = "fitted") -> dict[str, LinearFilter]:
    """Every baseline, in ORDER, as filters of `width` (the LSTM's lookback)."""
    H, T = len(horizons), y.shape[1]
    filters = [persistence(H, T, width), moving_average(H, T, width, ma_k),
               linear_ar(y, train_ends, horizons, width, ar_lags, ar_level)]
    return {f.name: f for f in filters}


def pick(filters: dict[str, LinearFilter], choice: np.ndarray) -> LinearFilter:
    """One filter whose (horizon, target) entries come from the baseline named in choice[h, j]."""
    first = next(iter(filters.values()))
    w, b = np.zeros_like(first.weights), np.zeros_like(first.bias)
    for (k, j), name in np.ndenumerate(choice):
        w[k, j], b[k, j] = filters[name].weights[k, j], filters[name].bias[k, j]
    return LinearFilter("+".join(sorted(set(choice.ravel()))), w, b)
