"""Daily series of a checked log: one row per (chemical, location), one column per day, used and
purchased in base units, distinct experiments, stock on hand; zero on days without rows. The
stage writes them as data/inventory/daily.parquet (daily_series); the prediction service builds
the same grid from a request's rows (daily_grid), to the bit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.contracts.inventory import DAILY_COLUMNS
from pipeline.contracts.inventory.rules import Coded


@dataclass
class DailyGrid:
    """Daily series as arrays: one row per (chemical, location), sorted, one column per day
    from `first_day` (day 1 = data.inventory.day_one)."""
    keys: list[tuple[str, str]]
    kind: list[str]
    base_unit: list[str]
    first_day: int
    dates: pd.DatetimeIndex
    used: np.ndarray          # [S, T] base units
    purchased: np.ndarray     # [S, T] base units
    experiments: np.ndarray   # [S, T] int, distinct experiments that used it
    stock: np.ndarray         # [S, T] base units, end of day

    def since(self, day: int) -> "DailyGrid":
        """The days from `day` on."""
        cut = slice(day - self.first_day, None)
        return DailyGrid(self.keys, self.kind, self.base_unit, day, self.dates[cut], self.used[:, cut],
                         self.purchased[:, cut], self.experiments[:, cut], self.stock[:, cut])


# Beyond this many rows in one (series, day) cell, cell_sums hands an unordered sum to pandas: its
# layers would cost a numpy call per row of that cell (a hostile request can put thousands on one day).
MAX_LAYERS = 64


def cell_sums(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Per cell, the sum of its values (NaN skipped), to the bit what pandas' groupby().sum()
    gives, which the stage's numbers have always been: where the cells come in order and no value
    is NaN, numpy's add.reduceat over each cell's run (pandas' own fast path); otherwise pandas'
    Kahan-compensated sum in row order (pandas/_libs/groupby.pyx group_sum), run in layers, every
    cell's k-th row at once. A pandas groupby's overhead was most of a one-series request's grid."""
    out = np.zeros(n_cells)
    if not len(cell):
        return out
    if (cell[1:] >= cell[:-1]).all() and not np.isnan(values).any():
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        out[cell[starts]] = np.add.reduceat(values, starts)
        return out
    order = np.argsort(cell, kind="stable")  # each cell's rows together, in row order
    starts = np.flatnonzero(np.r_[True, cell[order][1:] != cell[order][:-1]])
    sizes = np.diff(np.r_[starts, len(cell)])
    if sizes.max() > MAX_LAYERS:
        total = pd.Series(values).groupby(cell).sum()  # rows as given: pandas takes the Kahan path too
        out[total.index.to_numpy()] = total.to_numpy(float)
        return out
    cell, values = cell[order], values[order]
    rank = np.arange(len(cell)) - np.repeat(starts, sizes)
    compensation = np.zeros(n_cells)
    for k in range(int(sizes.max())):
        mine = (rank == k) & ~np.isnan(values)
        where, val = cell[mine], values[mine]
        with np.errstate(invalid="ignore"):  # inf - inf: pandas resets that NaN compensation to 0, so do we
            y = val - compensation[where]
            t = out[where] + y
            c = (t - out[where]) - y
        compensation[where] = np.where(c != c, 0.0, c)
        out[where] = t
    return out


def cell_distinct(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Per cell, how many distinct values its rows hold (None and NaN not counted), as groupby().nunique()."""
    codes, _ = pd.factorize(np.asarray(values, dtype=object))  # missing values: -1
    kept = codes >= 0
    pairs = np.unique(cell[kept].astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes[kept])
    return np.bincount(pairs // (int(codes.max(initial=0)) + 1), minlength=n_cells).astype(int)


def daily_grid(clean: Mapping[str, Sequence], day_one: str | pd.Timestamp, days: int | None = None) -> DailyGrid:
    """The daily series of `clean` (clean_log's table, or check_log's arrays) from day 1 to the
    last day (`days`, default its last row's): used and purchased in base units, distinct
    experiments active, stock on hand; zero on days without rows."""
    col = {name: np.asarray(clean[name]) for name in
           ("chemical", "location", "kind", "base_unit", "day", "is_purchase", "amount_base", "reason")}
    if not len(col["day"]):
        raise ValueError("no clean rows left to build daily series from (see the quarantine file)")
    last = int(days) if days else int(col["day"].max())
    chem, loc = Coded.of(col["chemical"]), Coded.of(col["location"])
    pair, first, which = np.unique(chem.codes.astype(np.int64) * len(loc.uniques) + loc.codes,
                                   return_index=True, return_inverse=True)
    found = [(str(chem.uniques[p // len(loc.uniques)]), str(loc.uniques[p % len(loc.uniques)])) for p in pair]
    order = sorted(range(len(found)), key=found.__getitem__)
    keys = [found[i] for i in order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    series = rank[which]  # each row's index into keys
    day = col["day"]
    cell = series * last + day - 1  # one integer per (series, day)
    purchase, shown = col["is_purchase"].astype(bool), day <= last
    use, bought = ~purchase & shown, purchase & shown
    amount, reason = np.asarray(col["amount_base"], dtype=float), col["reason"]
    grids = {"used": cell_sums(amount[use], cell[use], len(keys) * last),
             "experiments": cell_distinct(reason[use], cell[use], len(keys) * last),
             "purchased": cell_sums(amount[bought], cell[bought], len(keys) * last)}
    grids = {name: grid.reshape(len(keys), last) for name, grid in grids.items()}
    dates = pd.DatetimeIndex(pd.Timestamp(day_one).to_datetime64() + np.arange(last).astype("timedelta64[D]"))
    return DailyGrid(keys, [str(k) for k in col["kind"][first[order]]], [str(u) for u in col["base_unit"][first[order]]],
                     1, dates, grids["used"], grids["purchased"], grids["experiments"],
                     np.cumsum(grids["purchased"] - grids["used"], axis=1))


def daily_series(clean: pd.DataFrame, day_one: str, days: int | None = None) -> pd.DataFrame:
    """daily_grid as a table: one row per (chemical, location, day) (data/inventory/daily.parquet)."""
    g = daily_grid(clean, day_one, days)
    n_days = len(g.dates)
    each = {name: np.repeat(np.asarray(values, dtype=object), n_days)
            for name, values in (("chemical", [c for c, _ in g.keys]), ("location", [loc for _, loc in g.keys]),
                                 ("kind", g.kind), ("base_unit", g.base_unit))}
    day = np.tile(np.arange(g.first_day, g.first_day + n_days), len(g.keys))
    daily = pd.DataFrame({**each, "day": day, "used": g.used.ravel(), "purchased": g.purchased.ravel(),
                          "experiments": g.experiments.ravel(), "stock": g.stock.ravel()})
    daily.insert(4, "date", pd.Timestamp(day_one) + pd.to_timedelta(daily["day"] - 1, unit="D"))
    assert list(daily.columns) == DAILY_COLUMNS, "daily series out of step with pipeline/contracts/inventory"
    return daily
