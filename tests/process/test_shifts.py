"""Level shifts: a batch running outside the range of its product's other batches is flagged by
name, with the statistic that says how far; ordinary batch-to-batch variation is not."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.process.shifts import batch_shifts, shift_metrics
from pipeline.process.states import RUNNING, STOPPED


def _series():
    rng = np.random.default_rng(0)
    levels = [180.0, 170.0, 185.0, 60.0, 175.0]  # batch 3 is the shifted one (issue 23's ejection example)
    spreads = [10.0, 12.0, 9.0, 10.0, 40.0]      # batch 4 much noisier
    values = np.concatenate([rng.normal(m, s, size=500) for m, s in zip(levels, spreads)])[:, None]
    batch = np.repeat(np.arange(5), 500)
    states = np.full(len(values), RUNNING, np.int8)
    states[::7] = STOPPED  # stopped steps (force 0 in a real series) are not counted
    values[states == STOPPED] = 0.0
    return values, states, batch


def test_the_shifted_batch_is_flagged_by_name_and_the_others_are_not():
    values, states, batch = _series()
    names = [f"batch {b}" for b in range(5)]
    table = batch_shifts(values, states, batch, names, ["5"] * 5, [0, 1, 2, 3], [4], [0], ["ejection"], 3.0, 3.0, 30)
    flagged = table[table.flagged.astype(bool)]
    assert set(flagged.batch) == {"batch 3", "batch 4"}
    row = table.set_index("batch").loc["batch 3"]
    assert row.level_shift and not row.spread_shift and row.level_sigma < -5 and row.part == "development"
    assert row.reference == "batch 0; batch 1; batch 2"  # the other development batches, never the test
    noisy = table.set_index("batch").loc["batch 4"]
    assert noisy.spread_shift and not noisy.level_shift and noisy.part == "test"
    m = shift_metrics(table, 3.0, 3.0)
    assert m["flagged_batches"] == ["batch 3", "batch 4"] and m["batches_checked"] == 5
    assert m["flags"][0].startswith("batch 3 (development): ejection level")


def test_the_reference_is_the_same_product_where_it_has_other_batches():
    values, states, batch = _series()
    names = [f"batch {b}" for b in range(5)]
    products = ["5", "5", "7", "7", "7"]  # batch 3's product has batch 2 (185) and batch 4 as references
    table = batch_shifts(values, states, batch, names, products, [0, 1, 2, 3, 4], [], [0], ["ejection"], 3.0, 3.0, 30)
    assert table.set_index("batch").loc["batch 3", "reference"] == "batch 2; batch 4"
    assert table.set_index("batch").loc["batch 0", "reference"] == "batch 1"


def test_too_few_running_steps_are_not_judged():
    values, states, batch = _series()
    states[batch == 3] = STOPPED
    table = batch_shifts(values, states, batch, [f"b{b}" for b in range(5)], None, [0, 1, 2, 3], [4], [0], ["x"],
                         3.0, 3.0, 30)
    row = table.set_index("batch").loc["b3"]
    assert not row.flagged and np.isnan(row.level_sigma) and row.running_steps == 0
    assert isinstance(shift_metrics(table.iloc[:0], 3.0, 3.0)["flagged_batches"], list)
    assert pd.isna(table.set_index("batch").loc["b3", "median"])
