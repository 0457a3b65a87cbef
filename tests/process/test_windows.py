"""Windows over the aligned line data: views (no copies), complete history only,
normalisation from the training period only."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.process.data import LineData, LineDataModule, Normalizer, window_ends


def _data(n: int = 400, channels: int = 4) -> LineData:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, channels)).astype(np.float32)
    names = [f"c{i}" for i in range(channels)]
    return LineData(pd.date_range("2024-01-01", periods=n, freq="5s"), values, names, ["c1", "c3"],
                    {"align_period_s": 5.0, "source": "test"}, pd.DataFrame())


def _cfg(**kw):
    base = {"lookback": 10, "horizons": [2, 5], "split": {"train": 0.6, "val": 0.2}, "stride": 1, "batch_size": 32}
    return OmegaConf.create({**base, **kw})


def test_windows_are_views_of_one_array():
    dm = LineDataModule(_data(), _cfg())
    ds = dm.dataset("train")
    x, y = ds[3]
    assert x.shape == (10, 4) and y.shape == (2, 2)
    assert x.untyped_storage().data_ptr() == ds.x.untyped_storage().data_ptr()  # no copy
    t = int(dm.ends["train"][3])
    np.testing.assert_allclose(x.numpy(), dm.x[t - 9 : t + 1])
    np.testing.assert_allclose(y.numpy(), dm.x[[t + 2, t + 5]][:, [1, 3]])


def test_splits_are_chronological_and_do_not_leak():
    dm = LineDataModule(_data(), _cfg())
    assert dm.ends["train"].max() + 5 < dm.val_start
    assert dm.ends["val"].min() >= dm.val_start and dm.ends["val"].max() + 5 < dm.test_start
    assert dm.ends["test"].min() >= dm.test_start


def test_normalisation_uses_the_training_period_only():
    a = _data()
    b = _data()
    b.values[300:] += 1000.0  # only the test period changes
    na, nb = LineDataModule(a, _cfg()).x_norm, LineDataModule(b, _cfg()).x_norm
    np.testing.assert_allclose(na.mean, nb.mean)
    np.testing.assert_allclose(na.std, nb.std)
    n = Normalizer.fit(np.column_stack([np.ones(50), np.arange(50.0)]))
    assert n.std[0] == 1.0  # a constant channel passes unscaled instead of dividing by zero


def test_windows_with_missing_steps_are_skipped():
    data = _data()
    data.values[100, 0] = np.nan
    ends = window_ends(data.values, 10, [2], [1], 0, 400)
    assert not any(100 <= t <= 109 for t in ends)  # history would hold the NaN
    assert 98 in ends                                # target c1 at 100 is present; c0 is only an input
    data.values[120, 1] = np.nan
    ends = window_ends(data.values, 10, [2], [1], 0, 400)
    assert 118 not in ends                           # target missing at t+2


def test_too_short_a_run_fails_clearly():
    with pytest.raises(ValueError, match="no complete"):
        LineDataModule(_data(n=40), _cfg(lookback=20))
