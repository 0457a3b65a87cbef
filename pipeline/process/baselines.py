"""Baselines on the same windows as the LSTM, in raw units: persistence, moving average and
a linear autoregressive model of each target's own history (direct, one fit per horizon)."""
from __future__ import annotations

import numpy as np


def _lags(y: np.ndarray, ends: np.ndarray, p: int) -> np.ndarray:
    """[windows, p] of y[t-p+1..t] (views gathered once per call)."""
    return y[ends[:, None] - np.arange(p)[::-1][None, :]]


def persistence(y: np.ndarray, ends: np.ndarray, horizons: list[int]) -> np.ndarray:
    """[windows, horizons, targets]: the last value, for every horizon."""
    return np.repeat(y[ends][:, None, :], len(horizons), axis=1)


def moving_average(y: np.ndarray, ends: np.ndarray, horizons: list[int], k: int) -> np.ndarray:
    """[windows, horizons, targets]: the mean of the last k values (gathered per window, so a
    gap elsewhere in a real series cannot leak NaN into it, as a running sum would)."""
    mean = _lags(y, ends, k).mean(axis=1, dtype=np.float64)
    return np.repeat(mean[:, None, :], len(horizons), axis=1)


class LinearAR:
    """y[t+h] = c + sum_i a_i y[t-i] for each target and horizon, least squares on train."""

    def __init__(self, lags: int):
        self.lags = lags
        self.coef: dict[tuple[int, int], np.ndarray] = {}

    def fit(self, y: np.ndarray, ends: np.ndarray, horizons: list[int]) -> "LinearAR":
        ends = ends[ends >= self.lags - 1]
        for j in range(y.shape[1]):
            X = np.column_stack([_lags(y[:, j], ends, self.lags), np.ones(len(ends))])
            for k, h in enumerate(horizons):
                self.coef[(j, k)] = np.linalg.lstsq(X, y[ends + h, j], rcond=None)[0]
        return self

    def predict(self, y: np.ndarray, ends: np.ndarray, horizons: list[int]) -> np.ndarray:
        out = np.empty((len(ends), len(horizons), y.shape[1]))
        for j in range(y.shape[1]):
            X = np.column_stack([_lags(y[:, j], ends, self.lags), np.ones(len(ends))])
            for k in range(len(horizons)):
                out[:, k, j] = X @ self.coef[(j, k)]
        return out
