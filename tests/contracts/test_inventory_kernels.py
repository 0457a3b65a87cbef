"""The array kernels behind the inventory rules and the daily grid give, to the bit, what the
pandas calls they replaced give (the stage's numbers, and so the service's, must not move): the
per-cell sums (pandas' Kahan-compensated groupby sum, NaN skipped, inf kept), the per-cell count
of distinct values, and the factorisation of object columns (every missing value one code)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pipeline.contracts.inventory import daily
from pipeline.contracts.inventory.rules import factorize

AMOUNTS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.1, 1e16, 3.0]))


def pandas_sums(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    out = np.zeros(n_cells)
    total = pd.Series(values, dtype=float).groupby(cell).sum()
    out[total.index.to_numpy()] = total.to_numpy(float)
    return out


@given(cells=st.lists(st.tuples(st.integers(0, 5), AMOUNTS), max_size=120), in_order=st.booleans())
def test_cell_sums_match_pandas_groupby_sum_bit_for_bit(cells, in_order):
    if in_order:  # cells in order: pandas' add.reduceat path (unless a value is NaN)
        cells = sorted(cells, key=lambda c: c[0])
    cell = np.array([c for c, _ in cells], dtype=np.int64)
    values = np.array([v for _, v in cells], dtype=float)
    got, want = daily.cell_sums(values, cell, 6), pandas_sums(values, cell, 6)
    assert got.tobytes() == want.tobytes()


def test_cell_sums_hand_a_crowded_cell_to_pandas_with_the_same_bits():
    rng = np.random.default_rng(3)
    n = 3 * daily.MAX_LAYERS
    cell = np.r_[np.zeros(n, dtype=np.int64), rng.integers(1, 4, 50)]  # one cell past MAX_LAYERS
    values = rng.random(len(cell)) * 10.0 ** rng.integers(-8, 12, len(cell))
    assert daily.cell_sums(values, cell, 4).tobytes() == pandas_sums(values, cell, 4).tobytes()
    few = cell > 0
    assert daily.cell_sums(values[few], cell[few], 4).tobytes() == pandas_sums(values[few], cell[few], 4).tobytes()
    order = np.argsort(cell, kind="stable")
    assert daily.cell_sums(values[order], cell[order], 4).tobytes() == pandas_sums(values[order], cell[order], 4).tobytes()


@given(cells=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["a", "b", " a", "A", None, np.nan])), max_size=60))
def test_cell_distinct_matches_pandas_nunique(cells):
    cell = np.array([c for c, _ in cells], dtype=np.int64)
    values = np.array([v for _, v in cells] or [], dtype=object)
    want = np.zeros(5, dtype=int)
    counts = pd.Series(values, dtype=object).groupby(cell).nunique()
    want[counts.index.to_numpy()] = counts.to_numpy()
    assert np.array_equal(daily.cell_distinct(values, cell, 5), want)


@given(values=st.lists(st.sampled_from(["x", " x", "", "1", "1.0", None, np.nan, pd.NA, 1, 1.0, "é"]), max_size=40))
def test_factorize_groups_rows_as_pandas_does(values):
    column = np.array(values, dtype=object) if values else np.array([], dtype=object)
    codes, uniques = factorize(column)
    want, _ = pd.factorize(column, use_na_sentinel=False)
    assert len(set(zip(codes, want))) == len(set(codes)) == len(set(want))  # the same rows share a code
    assert all(pd.isna(u) == pd.isna(v) for u, v in zip(uniques[codes], column))
