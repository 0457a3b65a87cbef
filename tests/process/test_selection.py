"""Selection by cross-validation: the baseline best in relative terms across folds, the LSTM
only by a clear margin in the median fold and a win on every fold; the deployed forecasts
combine the choices; test gaps come with bootstrap intervals."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.process.selection import (LSTM, SELECTED, choose, choose_baseline, combine, gap_interval, lines, lstm_gains,
                                        selection_table)


def _fold(p, m, a):
    return {"persistence": np.array([p]), "moving_average": np.array([m]), "linear_ar": np.array([a])}


def test_the_baseline_best_across_folds_wins_not_the_one_best_on_one_fold():
    # [horizons=1, targets=2]; target 0: the AR wins narrowly on a noisy fold (large MAEs) but loses
    # clearly on two quiet ones; a pooled MAE would pick the AR, the relative score picks the average
    folds = [_fold([10.0, 1.0], [9.0, 1.0], [8.5, 1.2]), _fold([1.0, 1.0], [0.5, 0.9], [0.6, 1.1]),
             _fold([1.0, 1.0], [0.5, 0.95], [0.6, 1.1])]
    assert choose_baseline(folds).tolist() == [["moving_average", "moving_average"]]
    tie = [{"persistence": np.array([[1.0]]), "moving_average": np.array([[1.0]])}]
    assert choose_baseline(tie).tolist() == [["persistence"]]  # a tie goes to the simpler


def test_the_lstm_needs_the_margin_in_the_median_fold_and_a_win_on_every_fold():
    base = np.array([["moving_average", "linear_ar", "persistence"]], dtype=object)
    lstm = [np.array([[0.5, 0.97, 0.9]]), np.array([[0.6, 0.9, 1.05]]), np.array([[0.5, 0.9, 0.5]])]
    chosen = [np.array([[1.0, 1.0, 1.0]])] * 3
    gains = lstm_gains(lstm, chosen)
    # target 0: 40-50 % better on all folds; 1: median 10 % but one fold only 3 %; 2: median 10 %, one fold worse
    assert choose(base, gains, 0.02).tolist() == [[LSTM, LSTM, "persistence"]]
    assert choose(base, gains, 0.2).tolist() == [[LSTM, "linear_ar", "persistence"]]
    assert choose(base, None, 0.02).tolist() == base.tolist()


def test_combine_takes_each_entry_from_its_model():
    preds = {"a": np.zeros((4, 2, 2)), "b": np.ones((4, 2, 2))}
    out = combine(preds, np.array([["a", "b"], ["b", "a"]], dtype=object))
    assert out[:, 0, 1].tolist() == [1.0] * 4 and out[:, 0, 0].tolist() == [0.0] * 4


def test_gap_interval():
    rng = np.random.default_rng(0)
    base = np.abs(rng.normal(size=2000))
    assert gap_interval(base, base, 50) == (0.0, 0.0)
    lo, hi = gap_interval(0.5 * base, base, 50)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)
    lo, hi = gap_interval(np.abs(rng.normal(size=2000)), base, 50)  # same distribution: an interval around 0
    assert lo < 0 < hi


def test_selection_table_reports_the_test_result_of_the_cross_validated_choice():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(300, 1, 1))
    preds = {"persistence": truth + 1.0, "moving_average": truth + 0.5, "linear_ar": truth + 0.6, LSTM: truth + 0.55}
    choice = np.array([["linear_ar"]], dtype=object)  # the folds preferred the AR; the moving average wins on test
    preds[SELECTED] = combine(preds, choice)
    maes = {"test": {m: np.abs(v - truth).mean(axis=0) for m, v in preds.items()}}
    cv = {"baseline": choice, "regret": np.array([[[1.0]], [[1.1]]]), "lstm_gains": np.array([[[0.01]], [[-0.02]]])}
    table = selection_table(choice, maes, ["x"], [60.0], preds, truth, block=30, cv=cv)
    row = table.iloc[0]
    assert row.cv_baseline == "linear_ar" and row.cv_folds == 2 and row.cv_baseline_regret_max == pytest.approx(0.1)
    assert row.cv_lstm_folds == 2 and row.cv_lstm_gain_min == pytest.approx(-0.02)
    assert row.selected == "linear_ar" and row.best_baseline == "moving_average"
    assert row.selected_vs_best_baseline == pytest.approx(1 - 0.6 / 0.5)  # honestly negative
    assert row.lstm_vs_best_baseline == pytest.approx(1 - 0.55 / 0.5)
    assert row.lstm_vs_best_baseline_ci95_high < 0
    assert "the LSTM loses" in lines(table)[0]
