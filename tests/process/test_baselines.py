"""Baselines and forecast scores on series whose right answers are known."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.process import baselines
from pipeline.process.scores import compare, naive_scale, score_table


def test_persistence_and_moving_average():
    y = np.arange(20.0)[:, None]
    ends = np.array([5, 10])
    np.testing.assert_allclose(baselines.persistence(y, ends, [1, 3])[:, :, 0], [[5, 5], [10, 10]])
    np.testing.assert_allclose(baselines.moving_average(y, ends, [1], 4)[:, 0, 0], [3.5, 8.5])


def test_moving_average_is_not_spoilt_by_a_gap_before_the_window():
    y = np.arange(20.0)[:, None]
    y[2] = np.nan  # a gap in a real series, outside both windows
    np.testing.assert_allclose(baselines.moving_average(y, np.array([10, 15]), [1], 4)[:, 0, 0], [8.5, 13.5])


def test_linear_ar_recovers_an_ar1_process():
    rng = np.random.default_rng(1)
    y = np.zeros(5000)
    for t in range(1, len(y)):
        y[t] = 0.8 * y[t - 1] + rng.normal()
    y = y[:, None] + 10.0
    ends = np.arange(20, 4000)
    ar = baselines.LinearAR(3).fit(y, ends, [1, 2])
    coef = ar.coef[(0, 0)]
    assert coef[-2] == pytest.approx(0.8, abs=0.03)            # the last lag carries the AR(1)
    assert coef[-1] == pytest.approx(10.0 * 0.2, abs=0.2)      # intercept c = mu (1 - phi)
    assert ar.coef[(0, 1)][-2] == pytest.approx(0.64, abs=0.04)  # two steps: phi^2
    test = np.arange(4000, 4990)
    pred = ar.predict(y, test, [1, 2])
    mse_ar = ((pred[:, 0, 0] - y[test + 1, 0]) ** 2).mean()
    mse_p = ((y[test, 0] - y[test + 1, 0]) ** 2).mean()
    assert mse_ar < mse_p


def test_scores_and_comparison():
    y = np.array([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0]])
    ends = np.array([0, 1, 2, 3])
    scale = naive_scale(y, ends, [1])
    assert scale[0, 0] == 1.0
    truth = y[ends + 1][:, None, :]
    preds = {"lstm": truth + 0.5, "persistence": y[ends][:, None, :]}
    table = score_table(preds, truth, scale, ["a"], [5.0])
    row = table[table.model == "lstm"].iloc[0]
    assert row.mae == pytest.approx(0.5) and row.rmse == pytest.approx(0.5) and row.mase == pytest.approx(0.5)
    cmp = compare(table, 5.0)["a"]
    assert cmp["best_baseline"] == "persistence" and cmp["improvement"] == pytest.approx(0.5)
