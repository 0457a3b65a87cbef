"""The hourly price file's contract (data/prices/prices.csv): written by pipeline/data/prices,
read by the optimiser; and the validated reader both use (the data stage for a user's export,
the optimiser for the file the data stage wrote).

Columns: `timestamp` (local wall time, hourly in elapsed time, ascending) and `price_usd_per_mwh`.
Prices with a time zone (data.prices.timezone) also carry a `timezone` column (its IANA name) and
UTC offsets on the timestamps ("2021-11-07 01:00:00-08:00"), so that the 23- and 25-hour days of
a DST change stay hourly: the repeated 01:00 of the fall-back day is two rows, one per offset.
Without a time zone (the default profile, the CAISO export) the timestamps are plain wall time.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.contracts import quarantine as reasons
from pipeline.core.validation import DataValidationError, Quarantine, coerce_numeric, file_row, require_columns

TIMESTAMP = "timestamp"
PRICE = "price_usd_per_mwh"
TIMEZONE = "timezone"  # present when the timestamps are zone-aware
PRICES_FILE = "prices.csv"  # under data/prices/
_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"
MULTI_SERIES_SHARE = 0.5  # rows sharing their timestamp with another row, beyond which a file holds several series


def parse_timestamps(text: pd.Series, timezone: str | None) -> tuple[pd.Series, pd.Series]:
    """(timestamps, not_in_zone). Timestamps as written: with UTC offsets (converted to `timezone`,
    or UTC), or plain wall time (localised in `timezone`, the repeated hour of a fall-back day
    told apart by its order; kept naive without a zone). NaT where unreadable; `not_in_zone`
    marks wall times that are readable but do not exist (or stay ambiguous) in the zone."""
    text = text.astype(str).str.strip()
    aware = text.str.contains(_OFFSET, regex=True)
    naive = pd.to_datetime(text.where(~aware), errors="coerce", format="mixed")
    if timezone or aware.any():
        zone = timezone or "UTC"
        local = _localise(naive, zone)
        not_in_zone = local.isna() & naive.notna()
        if aware.any():
            utc = pd.to_datetime(text.where(aware), errors="coerce", format="ISO8601", utc=True)
            local = utc.dt.tz_convert(zone).where(aware, local)
        return local, not_in_zone
    return naive, pd.Series(False, index=text.index)


def _localise(naive: pd.Series, zone: str) -> pd.Series:
    try:
        return naive.dt.tz_localize(zone, ambiguous="infer", nonexistent="NaT")
    except Exception:  # pandas' AmbiguousTimeError: the repeated hour cannot be told apart by order
        return naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")


def _reject(df: pd.DataFrame, mask: pd.Series, file: Path, column: str, quarantine: Quarantine | None,
            reason: reasons.Reason, shown: str, detail: str = "") -> pd.DataFrame:
    """Quarantine the rows in `mask`, or raise for the first one when there is no quarantine."""
    if not mask.any():
        return df
    if quarantine is not None:
        return quarantine.split(df, mask, reason, column, detail)
    i = mask.idxmax()
    raise DataValidationError(file, f"{reason.code}: {reason.sentence(column, detail)}: {df.at[i, shown]!r}",
                              file_row(i), column)


def series_column(df: pd.DataFrame, timestamp_column: str, price_column: str) -> tuple[str, list[str]] | None:
    """(column, values) when the rows hold several series told apart by one column (zones,
    nodes): most timestamps repeat, and within a timestamp that column differs. None otherwise
    (a repeated hour of a DST change, a stray duplicate)."""
    repeated = df[timestamp_column].duplicated(keep=False)
    if repeated.mean() < MULTI_SERIES_SHARE:
        return None
    candidates = []
    for column in df.columns:
        if column in (timestamp_column, price_column):
            continue
        distinct = df[column].nunique(dropna=False)
        if 1 < distinct <= max(2, len(df) // 2) and not df.duplicated([timestamp_column, column]).any():
            candidates.append((distinct, column))
    if not candidates:
        return None  # plain repeats: quarantined as duplicate_timestamp, counted
    column = min(candidates)[1]
    return column, sorted(map(str, df[column].dropna().unique()))


def _select_series(df: pd.DataFrame, file: Path, timestamp_column: str, price_column: str,
                   row_filter: dict | None) -> pd.DataFrame:
    if row_filter:
        require_columns(df, [row_filter["column"]], file)
        values = df[row_filter["column"]].astype(str)
        df = df[values == str(row_filter["equals"])]
        if df.empty:
            raise DataValidationError(file, f"no rows where {row_filter['column']} == {row_filter['equals']!r} "
                                            f"(values there: {sorted(values.unique())[:20]})",
                                      column=row_filter["column"])
        return df
    found = series_column(df, timestamp_column, price_column)
    if found is not None:
        column, values = found
        shown = ", ".join(values[:20]) + (f", ... ({len(values)} in all)" if len(values) > 20 else "")
        raise DataValidationError(file, f"holds {len(values)} price series told apart by column '{column}' "
                                        f"({shown}); choose one with data.prices.filter="
                                        f"{{column: {column}, equals: {values[0]}}}", column=column)
    return df


def read_price_file(file: Path, timestamp_column: str = TIMESTAMP, price_column: str = PRICE, separator: str = ",",
                    timezone: str | None = None, row_filter: dict | None = None, scale: float = 1.0,
                    quarantine: Quarantine | None = None, counts: dict | None = None) -> pd.DataFrame:
    """Load, validate and normalise a price file into the contract's columns; bad rows go to
    `quarantine` (or raise, naming file, row and column). Defaults read prices.csv itself.
    `counts` (if given) receives rows_in_file and rows_read (those of the chosen series)."""
    file = Path(file)
    if not file.exists():
        raise FileNotFoundError(f"{file}: price file not found (data.prices.path)")
    if not scale > 0:
        raise ValueError(f"data.prices.to_usd_per_mwh = {scale}: allowed a number > 0")
    df = pd.read_csv(file, sep=separator, dtype=str, keep_default_na=False, na_values=[""])
    require_columns(df, [timestamp_column, price_column], file)
    if timezone is None and TIMEZONE in df.columns and timestamp_column == TIMESTAMP:
        zones = df[TIMEZONE].dropna().unique()
        if len(zones) != 1:
            raise DataValidationError(file, f"one time zone expected, found {list(zones)}", column=TIMEZONE)
        timezone = str(zones[0])
    rows_in_file = len(df)
    df = _select_series(df, file, timestamp_column, price_column, row_filter)
    if counts is not None:
        counts |= {"rows_in_file": rows_in_file, "rows_read": len(df)}
    stamps, not_in_zone = parse_timestamps(df[timestamp_column], timezone)
    df = _reject(df, stamps.isna() & ~not_in_zone, file, timestamp_column, quarantine, reasons.NOT_A_TIMESTAMP,
                 timestamp_column)
    df = _reject(df, not_in_zone.loc[df.index], file, timestamp_column, quarantine, reasons.TIME_NOT_IN_ZONE,
                 timestamp_column, str(timezone))
    df = coerce_numeric(df, price_column, file, quarantine, reasons.NOT_A_NUMBER)
    df = df.assign(**{TIMESTAMP: stamps.loc[df.index]})
    df = _reject(df, df[TIMESTAMP].duplicated(keep="first"), file, timestamp_column, quarantine,
                 reasons.DUPLICATE_TIMESTAMP, timestamp_column)
    backwards = df[TIMESTAMP].diff() < pd.Timedelta(0)
    if backwards.any():  # order is meaning in a time series: never re-sort a user's file silently
        i = backwards.idxmax()
        raise DataValidationError(file, f"timestamp earlier than the row before: {df.at[i, timestamp_column]!r}",
                                  file_row(i), timestamp_column)
    out = pd.DataFrame({TIMESTAMP: df[TIMESTAMP], PRICE: df[price_column].to_numpy() * scale}, index=df.index)
    return out  # the index keeps source rows for later error messages


def write_price_file(prices: pd.DataFrame, path: Path) -> Path:
    """prices.csv in the contract's layout (a `timezone` column when the timestamps have one)."""
    out = prices[[TIMESTAMP, PRICE]].copy()
    zone = out[TIMESTAMP].dt.tz
    if zone is not None:
        out[TIMEZONE] = str(zone)
    out.to_csv(path, index=False)
    return path
