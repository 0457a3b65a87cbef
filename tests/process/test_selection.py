"""Selection on validation: the best baseline, the LSTM only by a clear margin; the deployed
forecasts combine the choices; test gaps come with bootstrap intervals."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.process.selection import LSTM, SELECTED, choose, combine, gap_interval, lines, selection_table


def _val():
    # [horizons=1, targets=3]: target 0 the LSTM clearly better, 1 marginally, 2 worse
    return {"persistence": np.array([[1.0, 1.0, 1.0]]), "moving_average": np.array([[0.8, 0.9, 0.7]]),
            "linear_ar": np.array([[0.85, 0.8, 0.75]]), LSTM: np.array([[0.5, 0.79, 0.9]])}


def test_choose_takes_the_best_baseline_and_the_lstm_only_by_a_margin():
    choice = choose(_val(), 0.02)
    assert choice.tolist() == [[LSTM, "linear_ar", "moving_average"]]
    assert choose(_val(), 0.0).tolist() == [[LSTM, LSTM, "moving_average"]]
    baselines_only = {k: v for k, v in _val().items() if k != LSTM}
    assert choose(baselines_only, 0.02).tolist() == [["moving_average", "linear_ar", "moving_average"]]
    tie = {"persistence": np.array([[1.0]]), "moving_average": np.array([[1.0]])}
    assert choose(tie, 0.02).tolist() == [["persistence"]]  # a tie goes to the simpler


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


def test_selection_table_reports_the_test_result_of_the_validation_choice():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(300, 1, 1))
    preds = {"persistence": truth + 1.0, "moving_average": truth + 0.5, "linear_ar": truth + 0.6, LSTM: truth + 0.55}
    choice = np.array([["linear_ar"]], dtype=object)  # validation preferred the AR; the moving average wins on test
    preds[SELECTED] = combine(preds, choice)
    maes = {p: {m: np.abs(v - truth).mean(axis=0) for m, v in preds.items()} for p in ("val", "test")}
    table = selection_table(choice, maes, ["x"], [60.0], preds, truth, block=30)
    row = table.iloc[0]
    assert row.selected == "linear_ar" and row.best_baseline == "moving_average"
    assert row.selected_vs_best_baseline == pytest.approx(1 - 0.6 / 0.5)  # honestly negative
    assert row.lstm_vs_best_baseline == pytest.approx(1 - 0.55 / 0.5)
    assert row.lstm_vs_best_baseline_ci95_high < 0
    assert "the LSTM loses" in lines(table)[0]
