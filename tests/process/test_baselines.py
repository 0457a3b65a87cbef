"""Baselines (linear filters) and forecast scores on series whose right answers are known; the
same filters inside the torch graph give the numpy forecasts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.process import baselines
from pipeline.process.model import BaseFilter, normalised_filter
from pipeline.process.scores import compare, naive_scale, score_table


def test_persistence_and_moving_average():
    y = np.arange(20.0)[:, None]
    ends = np.array([5, 10])
    np.testing.assert_allclose(baselines.persistence(2, 1, 6).predict(y, ends)[:, :, 0], [[5, 5], [10, 10]])
    np.testing.assert_allclose(baselines.moving_average(1, 1, 6, 4).predict(y, ends)[:, 0, 0], [3.5, 8.5])


def test_moving_average_is_not_spoilt_by_a_gap_before_the_window():
    y = np.arange(20.0)[:, None]
    y[2] = np.nan  # a gap in a real series, outside both windows
    np.testing.assert_allclose(baselines.moving_average(1, 1, 4, 4).predict(y, np.array([10, 15]))[:, 0, 0], [8.5, 13.5])


def test_linear_ar_recovers_an_ar1_process():
    rng = np.random.default_rng(1)
    y = np.zeros(5000)
    for t in range(1, len(y)):
        y[t] = 0.8 * y[t - 1] + rng.normal()
    y = y[:, None] + 10.0
    ends = np.arange(20, 4000)
    ar = baselines.linear_ar(y, ends, [1, 2], width=6, lags=3)
    assert ar.weights[0, 0, :3].tolist() == [0, 0, 0]                   # lags beyond 3 unused
    assert ar.weights[0, 0, -1] == pytest.approx(0.8, abs=0.03)          # the last lag carries the AR(1)
    assert ar.bias[0, 0] == pytest.approx(10.0 * 0.2, abs=0.2)           # intercept c = mu (1 - phi)
    assert ar.weights[1, 0, -1] == pytest.approx(0.64, abs=0.04)         # two steps: phi^2
    test = np.arange(4000, 4990)
    pred = ar.predict(y, test)
    mse_ar = ((pred[:, 0, 0] - y[test + 1, 0]) ** 2).mean()
    mse_p = ((y[test, 0] - y[test + 1, 0]) ** 2).mean()
    assert mse_ar < mse_p


def test_pick_takes_each_entry_from_its_filter():
    y = np.random.default_rng(0).normal(size=(200, 2))
    f = baselines.fit_all(y, np.arange(20, 150), [1, 3], width=12, ma_k=4, ar_lags=5)
    choice = np.array([["persistence", "linear_ar"], ["moving_average", "persistence"]], dtype=object)
    picked = baselines.pick(f, choice).predict(y, np.arange(150, 190))
    for (k, j), name in np.ndenumerate(choice):
        np.testing.assert_allclose(picked[:, k, j], f[name].predict(y, np.arange(150, 190))[:, k, j])


def test_the_graph_filter_equals_numpy_in_raw_and_normalised_units():
    rng = np.random.default_rng(2)
    values = rng.normal(5.0, 2.0, size=(300, 3))
    target_index = [2, 0]
    y = values[:, target_index]
    ends = np.arange(20, 280)
    ar = baselines.linear_ar(y, np.arange(20, 200), [1, 4], width=10, lags=6)
    window = torch.as_tensor(values[ends[:, None] + np.arange(-9, 1)], dtype=torch.float64)
    raw = BaseFilter(ar, target_index).double()(window).numpy()
    np.testing.assert_allclose(raw, ar.predict(y, ends), rtol=1e-5, atol=1e-5)
    mean, std = values.mean(axis=0), values.std(axis=0)
    norm = BaseFilter(normalised_filter(ar, mean[target_index], std[target_index]), target_index).double()
    got = norm((window - torch.as_tensor(mean)) / torch.as_tensor(std)).numpy() * std[target_index] + mean[target_index]
    np.testing.assert_allclose(got, ar.predict(y, ends), rtol=1e-5, atol=1e-5)


def test_scores_and_comparison():
    y = np.array([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0]])
    ends = np.array([0, 1, 2, 3])
    scale = naive_scale(y, ends, [1])
    assert scale[0, 0] == 1.0
    truth = y[ends + 1][:, None, :]
    preds = {"lstm": truth + 0.5, "persistence": y[ends][:, None, :], "selected": truth}
    table = score_table(preds, truth, scale, ["a"], [5.0])
    row = table[table.model == "lstm"].iloc[0]
    assert row.mae == pytest.approx(0.5) and row.rmse == pytest.approx(0.5) and row.mase == pytest.approx(0.5)
    cmp = compare(table, 5.0)["a"]  # "selected" is no baseline, though it is perfect here
    assert cmp["best_baseline"] == "persistence" and cmp["improvement"] == pytest.approx(0.5)


def test_the_level_free_ar_forecasts_a_batch_at_a_level_the_training_never_had():
    """Fitted around 100, the classic AR pulls a batch running at 10 back toward 100; the AR on
    deviations from its lags' mean (weights summing to one, no intercept) keeps the batch's level."""
    rng = np.random.default_rng(3)
    y = np.zeros(6000)
    for t in range(1, len(y)):
        y[t] = 0.9 * y[t - 1] + rng.normal()
    train = y[:4000, None] + 100.0
    shifted = y[4000:, None] + 10.0
    both = np.concatenate([train, shifted])
    ends = np.arange(20, 3980)
    fitted = baselines.linear_ar(both, ends, [6], width=12, lags=12, level="fitted")
    free = baselines.linear_ar(both, ends, [6], width=12, lags=12, level="window")
    assert free.bias.tolist() == [[0.0]] and free.weights.sum() == pytest.approx(1.0)
    test = np.arange(4020, 5990)
    err = {name: np.abs(f.predict(both, test)[:, 0, 0] - both[test + 6, 0]).mean()
           for name, f in (("fitted", fitted), ("window", free))}
    assert err["window"] < 0.5 * err["fitted"]
    with pytest.raises(ValueError, match="ar_level"):
        baselines.linear_ar(both, ends, [6], width=12, lags=12, level="batch")
