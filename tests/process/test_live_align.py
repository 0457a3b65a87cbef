"""The live aligner puts the generated line's 1 Hz samples on the model's grid exactly as
prepare_line aligns the recording, and flags silent and stuck tags."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.contracts.line import TIMESTAMP
from pipeline.data import line as data_line
from pipeline.data.line_opcua import channel_periods, seconds
from pipeline.process.live_align import Aligner
from tests.conftest import make_cfg


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    cfg = make_cfg(tmp_path_factory.mktemp("live_align"), ["data.line.hours=0.25"])
    data_line.prepare(cfg, Path(cfg.paths.data) / "line", Path(cfg.paths.reports) / "data")
    return cfg, pd.read_parquet(Path(cfg.paths.data) / "line" / "aligned.parquet")


def aligner_for(cfg, channels, **kw) -> Aligner:
    periods = channel_periods(cfg.data.line)
    settings = {"ffill_limit_s": float(cfg.data.line.ffill_limit_s), "grace_s": 2.0, "stale_after_s": 15.0,
                "stuck_after_s": 600.0, **kw}
    return Aligner(channels, float(cfg.data.line.align_period_s), [periods.get(c, 1.0) for c in channels], **settings)


def test_streamed_samples_give_prepare_lines_grid(prepared):
    cfg, aligned = prepared
    channels = [c for c in aligned.columns if c != TIMESTAMP]
    index = {c: i for i, c in enumerate(channels)}
    al = aligner_for(cfg, channels)
    rows, times = [], []
    for ts, values in seconds(cfg.data.line, int(cfg.seed)):
        for channel, value in reversed(values):  # any order within a second
            for step in al.add(index[channel], ts.timestamp(), value, 0.0):
                rows.append(step.row)
                times.append(pd.Timestamp(step.start_s, unit="s"))
    live = np.array(rows)
    # every step, the last included: each closes at its own last sample
    want = aligned[channels].to_numpy(np.float32)
    assert len(live) == len(aligned)
    assert list(pd.DatetimeIndex(times)) == list(aligned[TIMESTAMP][: len(live)])
    np.testing.assert_array_equal(np.isnan(live), np.isnan(want))
    np.testing.assert_allclose(live, want, rtol=2e-7, atol=0)


def test_a_step_closes_without_waiting_for_the_next_one(prepared):
    cfg, _ = prepared
    al = aligner_for(cfg, ["a", "b"], ffill_limit_s=900.0)
    closed = []
    for t in range(5):
        closed += al.add(0, 1000.0 + t, 1.0, 0.0)
        closed += al.add(1, 1000.0 + t, 2.0, 0.0)
    assert len(closed) == 1 and closed[0].start_s == 1000.0  # the step is complete at its last sample
    assert closed[0].row.tolist() == [1.0, 2.0]


def test_silent_and_stuck_tags_are_flagged_and_cleared(prepared):
    cfg, _ = prepared
    al = aligner_for(cfg, ["a", "b"], stale_after_s=10.0, stuck_after_s=20.0, grace_s=2.0)
    rows = []
    for t in range(40):
        rows += al.add(0, 1000.0 + t, float(t), 0.0)          # a moves, b falls silent after 5 s
        if t < 5:
            rows += al.add(1, 1000.0 + t, 7.0, 0.0)
        al.check_stale()
    flags = [(f.channel, f.flag) for f in al.flags]
    assert ("b", "stale") in flags
    assert np.isnan(rows[-1].row[1]) and rows[-1].row[0] == rows[-1].row[0]  # b missing, a present
    al.flags.clear()
    for t in range(40, 70):
        al.add(0, 1000.0 + t, 5.0, 0.0)                        # a stuck at 5.0
        al.add(1, 1000.0 + t, float(t), 0.0)                   # b back
    flags = [(f.channel, f.flag) for f in al.flags]
    assert ("b", "resumed") in flags and ("a", "stuck") in flags


def test_a_value_that_is_no_number_is_refused_once_and_changes_nothing(prepared):
    """A hostile or broken server: text, a list, an infinity. Before, `float(value)` ended the
    monitor with a traceback on the text and dropped the infinity unsaid."""
    cfg, _ = prepared
    al = aligner_for(cfg, ["a", "b"])
    for t in range(3):
        al.add(0, 1000.0 + t, 1.0, 0.0)
        al.add(1, 1000.0 + t, 2.0, 0.0)
    for bad in ("1.0", [1.0, 2.0], float("inf"), True):
        assert al.add(1, 1003.0, bad, 0.0) == [] and al.tags[1].last_s == 1002.0
    assert al.add(1, 1003.0, float("nan"), 0.0) == []  # a value before its first write: no sample, no flag
    assert [(f.channel, f.flag) for f in al.flags] == [("b", "refused")] and "'1.0' is not a number" in al.flags[0].detail
    assert al.tags[1].refused == 4
    closed = al.add(0, 1003.0, 1.0, 0.0) + al.add(1, 1003.0, 2.0, 0.0) + al.add(0, 1010.0, 1.0, 0.0)
    assert closed and all(step.row.tolist() == [1.0, 2.0] for step in closed)
