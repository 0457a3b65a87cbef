"""The hourly price file's contract (data/prices/prices.csv): written by pipeline/data/prices,
read by the optimiser; and the validated reader both use (the data stage for a user's export,
the optimiser for the file the data stage wrote).

Columns: `timestamp` (local wall time, hourly, ascending) and `price_usd_per_mwh`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.core.validation import DataValidationError, Quarantine, coerce_numeric, file_row, require_columns

TIMESTAMP = "timestamp"
PRICE = "price_usd_per_mwh"
PRICES_FILE = "prices.csv"  # under data/prices/


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


def _reject(df: pd.DataFrame, mask: pd.Series, file: Path, column: str, quarantine: Quarantine | None,
            reason: str) -> pd.DataFrame:
    """Quarantine the rows in `mask`, or raise for the first one when there is no quarantine."""
    if not mask.any():
        return df
    if quarantine is not None:
        return quarantine.split(df, mask, reason, column)
    i = mask.idxmax()
    raise DataValidationError(file, f"{reason}: {df.at[i, TIMESTAMP]}", file_row(i), column)


def read_price_file(file: Path, timestamp_column: str = TIMESTAMP, price_column: str = PRICE, separator: str = ",",
                    timezone: str | None = None, row_filter: dict | None = None, scale: float = 1.0,
                    quarantine: Quarantine | None = None) -> pd.DataFrame:
    """Load, validate and normalise a price file into the contract's columns; bad rows go to
    `quarantine` (or raise, naming file, row and column). Defaults read prices.csv itself."""
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
    df = df.assign(**{TIMESTAMP: _parse_timestamps(df, timestamp_column, file, timezone)})
    df = _reject(df, df[TIMESTAMP].isna(), file, timestamp_column, quarantine,  # DST gaps and repeats only
                 "timestamp ambiguous or nonexistent in the time zone")
    df = _reject(df, df[TIMESTAMP].duplicated(keep="first"), file, timestamp_column, quarantine,
                 "duplicate timestamp (first kept)")
    backwards = df[TIMESTAMP].diff() < pd.Timedelta(0)
    if backwards.any():  # order is meaning in a time series: never re-sort a user's file silently
        _reject(df, backwards, file, timestamp_column, None, "timestamp earlier than the row before")
    out = pd.DataFrame({TIMESTAMP: df[TIMESTAMP].to_numpy(), PRICE: df[price_column].to_numpy() * scale})
    out.index = df.index  # keep source rows for later error messages
    return out
