"""Features and windows for the usage forecasters, from data/inventory/daily.parquet.

Per series (chemical x lab) and day: usage scaled by the series' mean training usage,
7- and 28-day rolling means (causal), the mean of the same weekday over the last four weeks
(the weekly profile a schedule leaves), experiments active, a purchase flag, weekday and
week-of-year on the circle. A sample is an origin day t: the `seq_len` days up to t as
input, the `horizon` days after t as target. Splits are chronological by target day.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.contracts.inventory import DAILY_COLUMNS, DAILY_FILE
from pipeline.core.split import split_points

FEATURES = ["use", "roll7", "roll28", "season4", "experiments", "purchased", "dow_sin", "dow_cos", "woy_sin", "woy_cos"]
# Features in usage units (divided by the series scale; the LSTM also divides them by the window's level).
USAGE_FEATURES = ["use", "roll7", "roll28", "season4"]
# The columns of the daily series (pipeline/contracts/inventory.py) the features are built from.
DAILY_READ = {"chemical", "location", "date", "used", "purchased", "experiments", "stock", "base_unit"}
assert DAILY_READ <= set(DAILY_COLUMNS)
# The longest causal window of a feature (roll28): a window's first day needs this many days minus
# one before it for its features to be the ones the models were trained on.
LONGEST_WINDOW_DAYS = 28


@dataclass
class SeriesSet:
    """All series on one day grid, plus identities and scales."""
    keys: list[tuple[str, str]]          # (chemical, location) per series
    chemicals: list[str]                 # distinct chemicals (embedding index order)
    locations: list[str]
    chem_index: np.ndarray               # [S] int64
    loc_index: np.ndarray                # [S] int64
    base_unit: list[str]                 # per series
    dates: pd.DatetimeIndex              # [T]
    used: np.ndarray                     # [S, T] base units
    stock: np.ndarray                    # [S, T] base units, end of day
    scale: np.ndarray                    # [S] mean training usage (base units per day)
    x: np.ndarray                        # [S, T, F] float32
    bounds: dict[str, int]               # first day index of val and test, number of days


def split_bounds(n_days: int, split: Mapping) -> dict[str, int]:
    """First day index of the validation and of the test part, and the number of days."""
    val, test = split_points(n_days, split, "model.inventory.split")
    return {"val": val, "test": test, "end": n_days}


def _weekday_and_iso_week(dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Weekday (Monday 0) and ISO week number of each date, in numpy (pandas' isocalendar
    builds a frame: most of a one-series forecast request's time)."""
    day = dates.to_numpy().astype("datetime64[D]")
    weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    thursday = day - weekday + 3               # a week belongs to the year of its Thursday
    week = (thursday - thursday.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) // 7 + 1
    return weekday, week


def _calendar(dates: pd.DatetimeIndex) -> np.ndarray:
    weekday, week = _weekday_and_iso_week(dates)
    dow = 2 * np.pi * weekday / 7.0
    woy = 2 * np.pi * (week.astype(float) - 1) / 52.18
    return np.stack([np.sin(dow), np.cos(dow), np.sin(woy), np.cos(woy)], axis=-1)


def _rolling_mean(a: np.ndarray, days: int) -> np.ndarray:
    """Causal mean of the last `days` values along the last axis (shorter at the start)."""
    c = np.cumsum(a, axis=-1)
    out = c.copy()
    out[..., days:] = c[..., days:] - c[..., :-days]
    counts = np.minimum(np.arange(1, a.shape[-1] + 1), days)
    return out / counts


def _seasonal_mean(a: np.ndarray, season: int, cycles: int) -> np.ndarray:
    """Causal mean of a[t], a[t-season], ..., a[t-(cycles-1)*season] (fewer at the start)."""
    total, count = np.zeros_like(a), np.zeros(a.shape[-1])
    for k in range(cycles):
        shift = k * season
        total[..., shift:] += a[..., : a.shape[-1] - shift]
        count[shift:] += 1
    return total / count


def build_series(daily: pd.DataFrame, split: Mapping,
                 scale: np.ndarray | None = None) -> SeriesSet:
    """Series, features and splits from the daily table; `scale` (per series) as the models
    were trained with, or computed here from the training part."""
    missing = DAILY_READ - set(daily.columns)
    if missing:
        raise ValueError(f"data/inventory/{DAILY_FILE} lacks columns {sorted(missing)}: rerun prepare_inventory")
    daily = daily.sort_values(["chemical", "location", "date"])
    keys = list(daily[["chemical", "location"]].drop_duplicates().itertuples(index=False, name=None))
    dates = pd.DatetimeIndex(sorted(daily["date"].unique()))

    def grid(col: str) -> np.ndarray:
        table = daily.pivot_table(index=["chemical", "location"], columns="date", values=col, aggfunc="sum")
        return table.reindex(index=pd.MultiIndex.from_tuples(keys), columns=dates).fillna(0.0).to_numpy(float)

    units = daily.drop_duplicates(["chemical", "location"]).set_index(["chemical", "location"])["base_unit"]
    return series_set(keys, [str(units[k]) for k in keys], dates, grid("used"), grid("stock"),
                      grid("experiments"), grid("purchased"), split, scale)


def series_set(keys: list[tuple[str, str]], base_unit: list[str], dates: pd.DatetimeIndex, used: np.ndarray,
               stock: np.ndarray, experiments: np.ndarray, purchased: np.ndarray, split: Mapping,
               scale: np.ndarray | None = None) -> SeriesSet:
    """Features and splits of series already on one day grid ([S, T] arrays, keys sorted)."""
    shape = (len(keys), len(dates))
    if used.shape != shape:
        raise ValueError(f"usage grid of shape {used.shape} for {len(keys)} series over {len(dates)} days")
    bounds = split_bounds(len(dates), split)
    if scale is None:
        scale = used[:, : bounds["val"]].mean(axis=1)
        scale = np.where(scale > 0, scale, np.maximum(used.mean(axis=1), 1e-6))
    scale = np.asarray(scale, dtype=float)
    if scale.shape != (len(keys),):
        raise ValueError(f"{len(scale)} series scales for {len(keys)} series: the models were trained on other data")
    use = used / scale[:, None]
    cal = np.broadcast_to(_calendar(dates), (*shape, 4))
    x = np.concatenate([np.stack([use, _rolling_mean(use, 7), _rolling_mean(use, LONGEST_WINDOW_DAYS), _seasonal_mean(use, 7, 4),
                                  experiments / 2.0, (purchased > 0).astype(float)], axis=-1),
                        cal], axis=-1).astype(np.float32)
    chemicals = sorted({c for c, _ in keys})
    locations = sorted({loc for _, loc in keys})
    return SeriesSet(list(keys), chemicals, locations,
                     np.array([chemicals.index(c) for c, _ in keys], dtype=np.int64),
                     np.array([locations.index(loc) for _, loc in keys], dtype=np.int64),
                     list(base_unit), dates, used, stock, scale, x, bounds)


def origins(data: SeriesSet, split: str, seq_len: int, horizon: int) -> np.ndarray:
    """Origin day indices t whose targets t+1..t+horizon lie in `split` (and a full window)."""
    b = data.bounds
    first, last = {"train": (0, b["val"]), "val": (b["val"], b["test"]), "test": (b["test"], b["end"])}[split]
    t = np.arange(seq_len - 1, b["end"] - horizon)
    return t[(t + 1 >= first) & (t + horizon <= last - 1)]


@dataclass
class Windows:
    x: np.ndarray        # [N, L, F] float32
    y: np.ndarray        # [N, H] float32, scaled
    series: np.ndarray   # [N] series index
    origin: np.ndarray   # [N] origin day index


def windows(data: SeriesSet, split: str, seq_len: int, horizon: int) -> Windows:
    t = origins(data, split, seq_len, horizon)
    s_idx = np.repeat(np.arange(len(data.keys)), len(t))
    t_idx = np.tile(t, len(data.keys))
    lag = np.arange(-seq_len + 1, 1)
    ahead = np.arange(1, horizon + 1)
    x = data.x[s_idx[:, None], t_idx[:, None] + lag[None, :]]
    y = (data.used / data.scale[:, None])[s_idx[:, None], t_idx[:, None] + ahead[None, :]]
    return Windows(x.astype(np.float32), y.astype(np.float32), s_idx, t_idx)


def last_window(data: SeriesSet, seq_len: int) -> Windows:
    """The newest window of every series (origin = last day), for forecasting the future."""
    t = len(data.dates) - 1
    x = data.x[:, t - seq_len + 1 : t + 1]
    n = len(data.keys)
    return Windows(x.astype(np.float32), np.zeros((n, 0), np.float32), np.arange(n), np.full(n, t))
