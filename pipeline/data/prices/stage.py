"""Hourly electricity prices for the schedule: a default profile, a CAISO/Energy Online
export (`date,price`), or any CSV by column mapping.

Output: data/prices/prices.csv with `timestamp` (local wall time, hourly, ascending) and
`price_usd_per_mwh`, exactly `optimize.horizon_hours` rows from `data.prices.start`.
Negative prices are real (CAISO has them) and kept; they are counted in the metrics.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from pipeline.core.validation import (DataValidationError, Quarantine, coerce_numeric,
                                      file_row, require_columns)

PRICE = "price_usd_per_mwh"


def profile_prices(profile: list[float], start: str, hours: int) -> pd.DataFrame:
    """The 24-hour profile (hour 0 first) repeated over `hours` from `start`."""
    values = np.asarray(profile, dtype=float)
    if values.shape != (24,) or not np.all(np.isfinite(values)):
        raise ValueError(f"data.prices.profile_usd_per_mwh: need 24 finite numbers, got {list(profile)}")
    stamps = pd.date_range(pd.Timestamp(start), periods=hours, freq="h")
    return pd.DataFrame({"timestamp": stamps, PRICE: values[stamps.hour]})


def _parse_timestamps(df: pd.DataFrame, column: str, file: Path, timezone: str | None) -> pd.Series:
    stamps = pd.to_datetime(df[column], errors="coerce", format="mixed")
    if stamps.isna().any():
        i = stamps.isna().idxmax()
        raise DataValidationError(file, f"not a timestamp: {df.at[i, column]!r}", file_row(i), column)
    if timezone:
        if stamps.dt.tz is None:
            stamps = stamps.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        stamps = stamps.dt.tz_convert(timezone).dt.tz_localize(None)
    return stamps


def read_price_file(file: Path, timestamp_column: str, price_column: str, separator: str = ",",
                    timezone: str | None = None, row_filter: dict | None = None, scale: float = 1.0,
                    quarantine: Quarantine | None = None) -> pd.DataFrame:
    """Load, validate and normalise a price file; bad rows go to `quarantine` (or raise)."""
    file = Path(file)
    if not file.exists():
        raise FileNotFoundError(f"{file}: price file not found (data.prices.path)")
    df = pd.read_csv(file, sep=separator, dtype=str, keep_default_na=False, na_values=[""])
    require_columns(df, [timestamp_column, price_column] + ([row_filter["column"]] if row_filter else []), file)
    if row_filter:
        df = df[df[row_filter["column"]].astype(str) == str(row_filter["equals"])]
        if df.empty:
            raise DataValidationError(file, f"no rows where {row_filter['column']} == {row_filter['equals']!r}")
    df = coerce_numeric(df, price_column, file, quarantine)
    df = df.assign(timestamp=_parse_timestamps(df, timestamp_column, file, timezone))
    df = _reject(df, df["timestamp"].isna(), file, timestamp_column, quarantine,  # DST gaps and repeats only
                 "timestamp ambiguous or nonexistent in the time zone")
    df = _reject(df, df["timestamp"].duplicated(keep="first"), file, timestamp_column, quarantine,
                 "duplicate timestamp (first kept)")
    backwards = df["timestamp"].diff() < pd.Timedelta(0)
    if backwards.any():  # order is meaning in a time series: never re-sort a user's file silently
        _reject(df, backwards, file, timestamp_column, None, "timestamp earlier than the row before")
    out = pd.DataFrame({"timestamp": df["timestamp"].to_numpy(), PRICE: df[price_column].to_numpy() * scale})
    out.index = df.index  # keep source rows for later error messages
    return out


def _reject(df: pd.DataFrame, mask: pd.Series, file: Path, column: str, quarantine: Quarantine | None,
            reason: str) -> pd.DataFrame:
    """Quarantine the rows in `mask`, or raise for the first one when there is no quarantine."""
    if not mask.any():
        return df
    if quarantine is not None:
        return quarantine.split(df, mask, reason, column)
    i = mask.idxmax()
    raise DataValidationError(file, f"{reason}: {df.at[i, 'timestamp']}", file_row(i), column)


def window(prices: pd.DataFrame, start: str, hours: int, file: Path) -> pd.DataFrame:
    """The `hours` hourly prices from `start`; an error naming the first missing hour."""
    wanted = pd.date_range(pd.Timestamp(start), periods=hours, freq="h")
    indexed = prices.set_index("timestamp")[PRICE]
    missing = wanted.difference(indexed.index)
    if len(missing):
        raise DataValidationError(file, f"no price for {len(missing)} of the {hours} hours from {start} "
                                        f"(first missing: {missing[0]}); check data.prices.start", column="timestamp")
    return pd.DataFrame({"timestamp": wanted, PRICE: indexed.loc[wanted].to_numpy()})


def load_prices(pcfg: DictConfig, hours: int, quarantine: Quarantine | None = None) -> pd.DataFrame:
    """Prices for the schedule from the `data.prices` config group."""
    if hours < 1:
        raise ValueError(f"optimize.horizon_hours must be >= 1, got {hours}")
    if pcfg.source == "profile":
        return profile_prices(list(pcfg.profile_usd_per_mwh), pcfg.start, hours)
    file = Path(pcfg.path)
    if pcfg.source == "caiso":
        table = read_price_file(file, "date", "price", quarantine=quarantine)
    elif pcfg.source == "csv":
        row_filter = OmegaConf.to_container(pcfg.filter) if pcfg.filter else None
        table = read_price_file(file, pcfg.timestamp_column, pcfg.price_column, pcfg.separator,
                                pcfg.timezone, row_filter, float(pcfg.to_usd_per_mwh), quarantine)
    else:
        raise ValueError(f"data.prices.source must be profile, caiso or csv, got {pcfg.source!r}")
    return window(table, pcfg.start, hours, file)


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Stage body of `python -m pipeline.data prices`."""
    pcfg = cfg.data.prices
    quarantine = Quarantine(pcfg.path or "profile")
    prices = load_prices(pcfg, int(cfg.optimize.horizon_hours), quarantine)
    out_dir.mkdir(parents=True, exist_ok=True)
    prices.to_csv(out_dir / "prices.csv", index=False)
    quarantine.write(reports_dir / "prices_quarantine.csv")
    p = prices[PRICE]
    return {"source": str(pcfg.source), "hours": len(prices), "price_min": float(p.min()),
            "price_mean": float(p.mean()), "price_max": float(p.max()),
            "negative_price_hours": int((p < 0).sum()), **quarantine.metrics()}
