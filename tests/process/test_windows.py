"""Windows over the aligned line data: views (no copies), complete history only, inside one
group (batch or time block), on the running press; normalisation from the development steps
only; the test held out by batch (the last, or named) or by time; folds over the groups."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.process.data import LineData, Normalizer, Windows, batch_bounds, segment_ids, split_groups, window_ends
from pipeline.process.selection import folds
from pipeline.process.states import RUNNING, STOPPED


def _data(n: int = 400, channels: int = 4, segments: np.ndarray | None = None, states: np.ndarray | None = None) -> LineData:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, channels)).astype(np.float32)
    names = [f"c{i}" for i in range(channels)]
    seg = np.zeros(n, dtype=np.int64) if segments is None else segments
    st = np.full(n, RUNNING, np.int8) if states is None else states
    batches = int(seg.max()) + 1
    return LineData(pd.date_range("2024-01-01", periods=n, freq="5s"), values, names, ["c1", "c3"],
                    {"align_period_s": 5.0, "source": "test"}, pd.DataFrame(), seg,
                    [f"batch {100 + i}" for i in range(batches)], None, st, None, [(str(100 + i),) for i in range(batches)])


def _cfg(**kw):
    base = {"lookback": 10, "horizons": [2, 5], "split": {"by": "batch", "test_batches": 1, "train": 0.6, "val": 0.2},
            "stride": 1, "batch_size": 32}
    return OmegaConf.create({**base, **kw})


def _windows(data: LineData, cfg, blocks: int = 4) -> Windows:
    return Windows(data, split_groups(data, cfg.split, blocks), cfg.lookback, list(cfg.horizons))


def test_windows_are_views_of_one_array():
    w = _windows(_data(), _cfg())
    fit, _ = w.fit_and_stop(w.split.dev_groups, 0.2)
    ds = w.dataset(fit)
    x, y = ds[3]
    assert x.shape == (10, 4) and y.shape == (2, 2)
    assert x.untyped_storage().data_ptr() == ds.x.untyped_storage().data_ptr()  # no copy
    t = int(fit[3])
    np.testing.assert_allclose(x.numpy(), w.x[t - 9 : t + 1])
    np.testing.assert_allclose(y.numpy(), w.x[[t + 2, t + 5]][:, [1, 3]])


def test_without_batches_the_split_is_by_time_in_blocks_and_no_window_crosses_one():
    w = _windows(_data(), _cfg())
    split = w.split
    assert split.by == "time" and split.dev_groups == [0, 1, 2, 3] and split.test_groups == [4]
    assert np.flatnonzero(split.test)[0] == 320  # 1 - 0.6 - 0.2 of 400 steps
    for g in split.dev_groups + split.test_groups:
        ends = w.of([g])
        assert (split.group[ends - 9] == g).all() and (split.group[ends + 5] == g).all()
    assert w.test.min() >= 320
    fit, stop = w.fit_and_stop([0, 1], 0.25)
    assert set(split.group[stop]) == {0, 1} and not set(fit) & set(stop)
    assert all(stop[split.group[stop] == g].min() > fit[split.group[fit] == g].max() for g in (0, 1))  # the tails


def test_split_by_batch_tests_on_the_last_or_named_batches_and_no_window_crosses_a_batch():
    seg = np.repeat([0, 1, 2, 3], [110, 100, 90, 100])
    data = _data(segments=seg)
    w = _windows(data, _cfg())
    assert w.split.by == "batch" and w.split.test_groups == [3] and w.split.dev_groups == [0, 1, 2]
    assert (seg[w.ends - 9] == seg[w.ends + 5]).all()       # history and farthest target in one batch
    assert not any(105 <= t <= 118 for t in w.ends) and 104 in w.ends  # around the 0 -> 1 boundary
    named = split_groups(data, _cfg(split={"by": "batch", "test_names": ["101"], "train": 0.6, "val": 0.2}).split, 4)
    assert named.test_groups == [1] and named.dev_groups == [0, 2, 3] and named.test_names == ["batch 101"]
    two = split_groups(data, _cfg(split={"by": "batch", "test_batches": 2, "train": 0.6, "val": 0.2}).split, 4)
    assert two.test_groups == [2, 3]
    one = split_groups(data, _cfg(split={"by": "batch", "test_batches": 3, "train": 0.6, "val": 0.2}).split, 4)
    assert one.by == "batch" and one.test_names == ["batch 101", "batch 102", "batch 103"]  # one development batch:
    assert one.dev_groups == [0, 1, 2, 3] and one.names[0] == "batch 100, hours 0.0-0.0"    # its time blocks are the groups
    assert (np.diff(one.group[:110]) >= 0).all() and set(np.bincount(one.group[:110])) <= {27, 28}
    with pytest.raises(ValueError, match="test_batches must lie in 1..3"):
        split_groups(data, _cfg(split={"by": "batch", "test_batches": 4, "train": 0.6, "val": 0.2}).split, 4)
    with pytest.raises(ValueError, match="test_names.*'999' names 0 batches"):
        split_groups(data, _cfg(split={"by": "batch", "test_names": ["999"], "train": 0.6, "val": 0.2}).split, 4)
    with pytest.raises(ValueError, match="split.by"):
        split_groups(data, _cfg(split={"by": "batches", "train": 0.6, "val": 0.2}).split, 4)
    assert split_groups(data, _cfg(split={"by": "time", "train": 0.6, "val": 0.2}).split, 4).by == "time"
    assert batch_bounds(seg) == [(0, 110), (110, 210), (210, 300), (300, 400)]


def test_folds_never_fit_and_score_one_group():
    loo = folds([0, 1, 2, 3], "leave_one_out")
    assert [f.holdout for f in loo] == [0, 1, 2, 3] and all(f.holdout not in f.fit and len(f.fit) == 3 for f in loo)
    rolling = folds([0, 1, 2, 3], "rolling")
    assert [(f.holdout, f.fit) for f in rolling] == [(1, (0,)), (2, (0, 1)), (3, (0, 1, 2))]
    with pytest.raises(ValueError, match="select.cv"):
        folds([0, 1], "kfold")


def test_model_windows_forecast_the_running_press_only():
    states = np.full(400, RUNNING, np.int8)
    states[100:120] = STOPPED
    ends = _windows(_data(states=states), _cfg()).ends
    assert not any(95 <= t < 120 for t in ends)  # the origin or a forecast step would be stopped
    assert 120 in ends                           # history may hold the stop: the state is an input


def test_segment_ids_change_with_any_segment_column():
    frame = pd.DataFrame({"campaign": ["80", "80", "80", "81", "81"], "batch": ["1", "1", "2", "2", "2"]})
    ids, names, keys = segment_ids(frame, ["campaign", "batch"])
    assert ids.tolist() == [0, 0, 1, 2, 2]
    assert names == ["campaign 80, batch 1", "campaign 80, batch 2", "campaign 81, batch 2"]
    assert keys == [("80", "1"), ("80", "2"), ("81", "2")]
    assert segment_ids(frame, [])[0].tolist() == [0] * 5


def test_normalisation_uses_the_development_steps_only():
    a = _data()
    b = _data()
    b.values[320:] += 1000.0  # only the test period changes
    na, nb = _windows(a, _cfg()).x_norm, _windows(b, _cfg()).x_norm
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
        _windows(_data(n=40), _cfg(lookback=20), blocks=2)
