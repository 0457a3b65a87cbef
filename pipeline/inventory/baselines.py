"""Baselines on the same windows the LSTM sees (inputs and outputs in scaled usage):
seasonal naive, moving average and a per-chemical ridge-regularised linear model."""
from __future__ import annotations

import numpy as np

USE, ROLL7, ROLL28, EXPERIMENTS = 0, 1, 2, 3
DOW_SIN, DOW_COS = 5, 6


def seasonal_naive(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Day t+h gets the value of the same phase of the season before it: t+h-k*season, k=ceil(h/season)."""
    seq_len = x.shape[1]
    if seq_len < season:
        raise ValueError(f"model.inventory.seq_len ({seq_len}) must be >= baselines.season_days ({season})")
    h = np.arange(1, horizon + 1)
    idx = seq_len - 1 + h - np.ceil(h / season).astype(int) * season
    return x[:, idx, USE]


def moving_average(x: np.ndarray, horizon: int, days: int) -> np.ndarray:
    if x.shape[1] < days:
        raise ValueError(f"model.inventory.seq_len ({x.shape[1]}) must be >= baselines.moving_average_days ({days})")
    return np.repeat(x[:, -days:, USE].mean(axis=1, keepdims=True), horizon, axis=1)


def weekday_of_last_day(x: np.ndarray) -> np.ndarray:
    angle = np.arctan2(x[:, -1, DOW_SIN], x[:, -1, DOW_COS])
    return np.mod(np.rint(angle / (2 * np.pi) * 7), 7).astype(int)


def linear_features(x: np.ndarray, lags: int) -> np.ndarray:
    """[lags of use, 7- and 28-day means, experiments in the last week, weekday one-hot, 1]."""
    if x.shape[1] < lags:
        raise ValueError(f"model.inventory.seq_len ({x.shape[1]}) must be >= baselines.linear_lags ({lags})")
    onehot = np.eye(7, dtype=np.float32)[weekday_of_last_day(x)]
    return np.concatenate([x[:, -lags:, USE], x[:, -1:, ROLL7], x[:, -1:, ROLL28],
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
