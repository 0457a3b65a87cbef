"""Windows over the aligned line data: views (no copies), complete history only, inside one
batch, on the running press; normalisation from the training period only; split by batch."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.process.data import LineData, LineDataModule, Normalizer, segment_ids, window_ends
from pipeline.process.states import RUNNING, STOPPED


def _data(n: int = 400, channels: int = 4, segments: np.ndarray | None = None, states: np.ndarray | None = None) -> LineData:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, channels)).astype(np.float32)
    names = [f"c{i}" for i in range(channels)]
    seg = np.zeros(n, dtype=np.int64) if segments is None else segments
    st = np.full(n, RUNNING, np.int8) if states is None else states
    return LineData(pd.date_range("2024-01-01", periods=n, freq="5s"), values, names, ["c1", "c3"],
                    {"align_period_s": 5.0, "source": "test"}, pd.DataFrame(), seg,
                    [f"batch {i}" for i in range(int(seg.max()) + 1)], None, st)


def _cfg(**kw):
    base = {"lookback": 10, "horizons": [2, 5], "split": {"by": "batch", "test_batches": 1, "train": 0.6, "val": 0.2},
            "stride": 1, "batch_size": 32}
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


def test_without_batches_the_split_is_by_time_chronological_and_does_not_leak():
    dm = LineDataModule(_data(), _cfg())
    assert dm.split_by == "time"
    assert dm.ends["train"].max() + 5 < dm.val_start
    assert dm.ends["val"].min() >= dm.val_start and dm.ends["val"].max() + 5 < dm.test_start
    assert dm.ends["test"].min() >= dm.test_start


def test_split_by_batch_tests_on_the_last_batch_and_no_window_crosses_a_batch():
    seg = np.repeat([0, 1, 2], [150, 130, 120])
    dm = LineDataModule(_data(segments=seg), _cfg())
    assert dm.split_by == "batch" and dm.test_start == 280
    assert dm.val_start == 280 - round(280 * 0.2 / 0.8)
    for ends in dm.ends.values():
        assert (seg[ends - 9] == seg[ends + 5]).all()       # history and farthest target in one batch
    assert not any(145 <= t <= 158 for t in dm.ends["train"]) and 144 in dm.ends["train"]  # around the 0 -> 1 boundary
    dm2 = LineDataModule(_data(segments=seg), _cfg(split={"by": "batch", "test_batches": 2, "train": 0.6, "val": 0.2}))
    assert dm2.test_start == 150
    with pytest.raises(ValueError, match="test_batches"):
        LineDataModule(_data(segments=seg), _cfg(split={"by": "batch", "test_batches": 3, "train": 0.6, "val": 0.2}))
    with pytest.raises(ValueError, match="split.by"):
        LineDataModule(_data(segments=seg), _cfg(split={"by": "batches", "train": 0.6, "val": 0.2}))
    assert LineDataModule(_data(segments=seg), _cfg(split={"by": "time", "train": 0.6, "val": 0.2})).split_by == "time"


def test_model_windows_forecast_the_running_press_only():
    states = np.full(400, RUNNING, np.int8)
    states[100:120] = STOPPED
    dm = LineDataModule(_data(states=states), _cfg())
    ends = np.concatenate(list(dm.ends.values()))
    assert not any(95 <= t < 120 for t in ends)  # the origin or a forecast step would be stopped
    assert 120 in ends                           # history may hold the stop: the state is an input


def test_segment_ids_change_with_any_segment_column():
    frame = pd.DataFrame({"campaign": ["80", "80", "80", "81", "81"], "batch": ["1", "1", "2", "2", "2"]})
    ids, names = segment_ids(frame, ["campaign", "batch"])
    assert ids.tolist() == [0, 0, 1, 2, 2]
    assert names == ["campaign 80, batch 1", "campaign 80, batch 2", "campaign 81, batch 2"]
    assert segment_ids(frame, [])[0].tolist() == [0] * 5


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
