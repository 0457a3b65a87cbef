"""Baselines on the same windows the LSTM sees (inputs and outputs in scaled usage):
seasonal naive, moving average and a per-chemical ridge-regularised linear model."""
from __future__ import annotations

import numpy as np

from pipeline.inventory.features import FEATURES

USE, ROLL7, ROLL28, SEASON4 = (FEATURES.index(k) for k in ("use", "roll7", "roll28", "season4"))
EXPERIMENTS, DOW_SIN, DOW_COS = (FEATURES.index(k) for k in ("experiments", "dow_sin", "dow_cos"))


def seasonal_naive(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Day t+h gets the value of the same phase of the season before it: t+h-k*season, k=ceil(h/season)."""
    seq_len = x.shape[1]
    if seq_len < season:
        raise ValueError(f"model.inventory.seq_len ({seq_len}) must be >= baselines.season_days ({season})")
    h = np.arange(1, horizon + 1)
    idx = seq_len - 1 + h - np.ceil(h / season).astype(int) * season
    return x[:, idx, USE]


def weekday_profile(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Seasonal moving average: each target day gets the mean of its weekday over the last four
    weeks (the `season4` feature of the same phase in the window's last season)."""
    seq_len = x.shape[1]
    h = np.arange(1, horizon + 1)
    idx = seq_len - 1 + h - np.ceil(h / season).astype(int) * season
    return x[:, idx, SEASON4]


def moving_average(x: np.ndarray, horizon: int, days: int) -> np.ndarray:
    if x.shape[1] < days:
        raise ValueError(f"model.inventory.seq_len ({x.shape[1]}) must be >= baselines.moving_average_days ({days})")
    return np.repeat(x[:, -days:, USE].mean(axis=1, keepdims=True), horizon, axis=1)


def weekday_of_last_day(x: np.ndarray) -> np.ndarray:
    angle = np.arctan2(x[:, -1, DOW_SIN], x[:, -1, DOW_COS])
    return np.mod(np.rint(angle / (2 * np.pi) * 7), 7).astype(int)


def linear_features(x: np.ndarray, lags: int) -> np.ndarray:
    """[lags of use, 7- and 28-day means, last week's four-week weekday profile, experiments in
    the last week, weekday one-hot, 1]."""
    if x.shape[1] < lags:
        raise ValueError(f"model.inventory.seq_len ({x.shape[1]}) must be >= baselines.linear_lags ({lags})")
    onehot = np.eye(7, dtype=np.float32)[weekday_of_last_day(x)]
    return np.concatenate([x[:, -lags:, USE], x[:, -1:, ROLL7], x[:, -1:, ROLL28], x[:, -7:, SEASON4],
                           x[:, -7:, EXPERIMENTS].mean(axis=1, keepdims=True), onehot,
                           np.ones((len(x), 1), np.float32)], axis=1).astype(np.float32)


def fit_linear(features: np.ndarray, y: np.ndarray, chem: np.ndarray, n_chemicals: int,
               ridge: float) -> np.ndarray:
    """Per-chemical ridge weights [C, P, H] (a chemical without samples gets zeros)."""
    p, h = features.shape[1], y.shape[1]
    weights = np.zeros((n_chemicals, p, h), dtype=np.float32)
    for c in range(n_chemicals):
        a, b = features[chem == c].astype(np.float64), y[chem == c].astype(np.float64)
        if len(a):
            weights[c] = np.linalg.solve(a.T @ a + ridge * np.eye(p), a.T @ b)
    return weights


def predict_linear(features: np.ndarray, chem: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.einsum("bp,bph->bh", features, weights[chem])
