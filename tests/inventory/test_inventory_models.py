"""Baselines, metrics, features and the network of the usage forecaster, on small arrays."""
import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.core.onnx_io import export, max_abs_difference
from pipeline.inventory import baselines
from pipeline.inventory.features import FEATURES, _weekday_and_iso_week, build_series, origins, windows
from pipeline.inventory.metrics import errors
from pipeline.inventory.network import LinearBank, UsageLSTM
from pipeline.inventory.selection import NAIVE, metric_table, select, summary


def toy_daily(days=120, pattern=(5, 5, 0, 5, 5, 0, 0), noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2020-01-06", periods=days, freq="D")  # a Monday
    rows = []
    for chem, loc, level in (("A", "Lab_1", 1.0), ("B", "Lab_1", 3.0)):
        used = np.array([pattern[d.weekday()] for d in dates], float) * level
        used = used * np.exp(noise * rng.standard_normal(days)) if noise else used
        rows.append(pd.DataFrame({"chemical": chem, "location": loc, "kind": "volume", "base_unit": "ml",
                                  "date": dates, "day": np.arange(1, days + 1), "used": used,
                                  "purchased": 0.0, "experiments": (used > 0).astype(int), "stock": -used.cumsum()}))
    return pd.concat(rows, ignore_index=True)


def test_errors_wape_handles_zero_days():
    e = errors(np.array([0.0, 0.0, 4.0]), np.array([1.0, 0.0, 3.0]))
    assert e["wape"] == pytest.approx(0.5) and e["mae"] == pytest.approx(2 / 3)
    assert e["r2"] == pytest.approx(1 - 2 / 10.6667, rel=1e-3)
    assert np.isnan(errors(np.zeros(3), np.ones(3))["wape"])


def test_calendar_weekday_and_iso_week_are_pandas_own():
    dates = pd.date_range("1900-01-01", "2200-12-31", freq="D")  # every ISO week-53 and new-year case
    weekday, week = _weekday_and_iso_week(dates)
    assert np.array_equal(weekday, dates.day_of_week.to_numpy())
    assert np.array_equal(week, dates.isocalendar().week.to_numpy().astype(np.int64))


def test_splits_are_chronological_without_leakage():
    data = build_series(toy_daily(days=240), {"train": 0.7, "val": 0.1})
    b = data.bounds
    tr, va, te = (origins(data, s, 28, 14) for s in ("train", "val", "test"))
    assert tr.max() + 14 < b["val"] and va.min() + 1 >= b["val"] and va.max() + 14 < b["test"]
    assert te.min() + 1 >= b["test"] and te.max() + 14 == b["end"] - 1
    # the scale comes from the training part only
    assert data.scale[0] == pytest.approx(data.used[0, : b["val"]].mean())


def test_windows_match_the_series():
    data = build_series(toy_daily(), {"train": 0.7, "val": 0.1})
    w = windows(data, "test", 28, 14)
    s, t = w.series[5], w.origin[5]
    assert w.x.shape[1:] == (28, len(FEATURES)) and w.y.shape[1] == 14
    assert w.y[5, 0] == pytest.approx(data.used[s, t + 1] / data.scale[s])
    assert w.x[5, -1, 0] == pytest.approx(data.used[s, t] / data.scale[s])


def test_seasonal_baselines_are_exact_on_a_pure_weekly_pattern():
    data = build_series(toy_daily(), {"train": 0.7, "val": 0.1})
    w = windows(data, "test", 28, 14)
    assert np.allclose(baselines.seasonal_naive(w.x, 14, 7), w.y, atol=1e-5)
    assert np.allclose(baselines.weekday_profile(w.x, 14, 7), w.y, atol=1e-5)
    ma = baselines.moving_average(w.x, 14, 28)
    assert np.allclose(ma, ma[:, :1]) and not np.allclose(ma, w.y)


def test_linear_model_fits_a_linear_target():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(400, 5)).astype(np.float32)
    true = rng.normal(size=(2, 5, 3)).astype(np.float32)
    chem = rng.integers(0, 2, 400)
    y = baselines.predict_linear(feats, chem, true)
    fitted = baselines.fit_linear(feats, y, chem, 2, ridge=1e-6)
    assert np.allclose(fitted, true, atol=1e-3)
    bank = LinearBank(torch.from_numpy(fitted))
    assert np.allclose(bank(torch.from_numpy(feats), torch.from_numpy(chem)).numpy(), y, atol=1e-3)


def test_lstm_starts_from_the_weekday_profile_and_exports_to_onnx(tmp_path):
    data = build_series(toy_daily(noise=0.3), {"train": 0.7, "val": 0.1})
    w = windows(data, "test", 28, 14)
    net = UsageLSTM(len(FEATURES), 2, 1, 14, hidden_size=8).eval()
    chem = torch.from_numpy(data.chem_index[w.series])
    loc = torch.from_numpy(data.loc_index[w.series])
    with torch.no_grad():
        out = net(torch.from_numpy(w.x), chem, loc).numpy()
    assert out.shape == w.y.shape and (out >= 0).all()
    assert np.allclose(out, baselines.weekday_profile(w.x, 14, 7), atol=1e-5)
    path = export(net, (torch.from_numpy(w.x[:4]), chem[:4], loc[:4]), tmp_path / "m.onnx",
                  ["x", "chemical", "location"], ["usage"], {"features": FEATURES})
    diff = max_abs_difference(path, net, {"x": w.x, "chemical": chem.numpy(), "location": loc.numpy()})
    assert diff < 1e-4  # batch size other than the export's


def _table(val, test):
    rows = []
    for split, d in (("val", val), ("test", test)):
        for model, wape in d.items():
            rows.append({"split": split, "model": model, "chemical": "A", "wape": wape})
    return pd.DataFrame(rows)


def test_selection_uses_validation_and_says_when_nothing_beats_naive():
    t = _table({NAIVE: 0.5, "lstm": 0.4}, {NAIVE: 0.5, "lstm": 0.6})
    chosen = select(t, "wape")
    assert chosen == {"A": "lstm"}
    table, lines = summary(t, chosen)
    assert not table["any_model_beats_naive"].iloc[0]
    assert "no model beats seasonal naive" in lines[0]
    t2 = _table({NAIVE: 0.5, "lstm": 0.4}, {NAIVE: 0.5, "lstm": 0.4})
    table2, lines2 = summary(t2, select(t2, "wape"))
    assert table2["improvement_vs_naive"].iloc[0] == pytest.approx(0.2) and "+20.0%" in lines2[0]


def test_a_zero_forecast_that_beats_naive_is_called_what_it_is():
    t = _table({NAIVE: 2.0, "lstm": 1.0}, {NAIVE: 2.0, "lstm": 1.0})
    table, lines = summary(t, select(t, "wape"))
    assert table["any_model_beats_naive"].iloc[0] and not table["selected_has_skill"].iloc[0]
    assert "no model has skill" in lines[0]


def test_metric_table_is_per_chemical():
    actual = {"test": np.array([[1.0, 1.0], [2.0, 2.0]])}
    preds = {"test": {NAIVE: np.array([[1.0, 1.0], [1.0, 1.0]])}}
    t = metric_table(actual, preds, {"test": np.array([0, 1])}, ["A", "B"])
    assert list(t["chemical"]) == ["A", "B"] and list(t["wape"]) == [0.0, 0.5]
