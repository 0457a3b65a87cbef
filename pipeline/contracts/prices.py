"""The hourly price file's contract (data/prices/prices.csv): written by pipeline/data/prices,
read by the optimiser; and the validated reader both use (the data stage for a user's export,
the optimiser for the file the data stage wrote).

Columns: `timestamp` (local wall time, hourly in elapsed time, ascending) and `price_usd_per_mwh`.
Prices with a time zone (data.prices.timezone) also carry a `timezone` column (its IANA name) and
UTC offsets on the timestamps ("2021-11-07 01:00:00-08:00"), so that the 23- and 25-hour days of
a DST change stay hourly: the repeated 01:00 of the fall-back day is two rows, one per offset.
Without a time zone (the default profile, the CAISO export) the timestamps are plain wall time.

`read_price_file` is the one reader of price files: the data stage reads a user's export with
it, the optimiser prices.csv. Rows finer than an hour become hourly time-weighted means
(pipeline/contracts/price_hours.py); an hourly file keeps each row's price exactly. The file's
zone (`file_timezone`: what its plain timestamps mean) and the schedule's zone (`timezone`: the
hours the schedule counts) are separate, so a UTC export can be scheduled in local hours.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.contracts import quarantine as reasons
from pipeline.contracts.price_hours import STAMP_MARKS, describe_cadence, to_hours
from pipeline.core.validation import (DataValidationError, Quarantine, coerce_numeric, file_row, read_text_csv,
                                      require_columns)

TIMESTAMP = "timestamp"
PRICE = "price_usd_per_mwh"
TIMEZONE = "timezone"  # present when the timestamps are zone-aware
PRICES_FILE = "prices.csv"  # under data/prices/
_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"
MULTI_SERIES_SHARE = 0.5  # rows sharing their timestamp with another row, beyond which a file holds several series
PARTIAL_HOUR = ("quarantine", "error")  # what a partial hour's rows get (data.prices.partial_hour)


def parse_timestamps(text: pd.Series, timezone: str | None,
                     file_timezone: str | None = None) -> tuple[pd.Series, pd.Series]:
    """(timestamps, not_in_zone). Timestamps as written: with UTC offsets, or plain wall time in
    the file's zone (`file_timezone`, else `timezone`; the repeated hour of a fall-back day told
    apart by its order), converted to the schedule's zone (`timezone`, else the file's, else UTC
    for offsets); kept naive when no zone is given and none is written. NaT where unreadable;
    `not_in_zone` marks wall times that are readable but do not exist (or stay ambiguous) in the
    file's zone."""
    text = text.astype(str).str.strip()
    aware = text.str.contains(_OFFSET, regex=True)
    naive = pd.to_datetime(text.where(~aware), errors="coerce", format="mixed")
    source, schedule = file_timezone or timezone, timezone or file_timezone
    if source or aware.any():
        zone = source or "UTC"
        local = _localise(naive, zone)
        not_in_zone = local.isna() & naive.notna()
        if aware.any():
            utc = pd.to_datetime(text.where(aware), errors="coerce", format="ISO8601", utc=True)
            local = utc.dt.tz_convert(zone).where(aware, local)
        if schedule and schedule != zone:
            local = local.dt.tz_convert(schedule)
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
                    quarantine: Quarantine | None = None, counts: dict | None = None,
                    file_timezone: str | None = None, stamp_marks: str = "start",
                    partial_hour: str = "quarantine") -> pd.DataFrame:
    """Load, validate and normalise a price file into hourly prices in the contract's columns;
    bad rows go to `quarantine` (or raise, naming file, row and column). Defaults read
    prices.csv itself. Rows finer than an hour become time-weighted hourly means; the rows of a
    partial hour are quarantined (`partial_hour="error"`, or no quarantine: refused). `counts`
    (if given) receives rows_in_file, rows_read (those of the chosen series), rows_accepted (the
    rows in complete hours), cadence_s, irregular_stamps, partial_hours and the file's first and
    last timestamps (`span`)."""
    file = Path(file)
    if not file.exists():
        raise FileNotFoundError(f"{file}: price file not found (data.prices.path)")
    if not scale > 0:
        raise ValueError(f"data.prices.to_usd_per_mwh = {scale}: allowed a number > 0")
    if partial_hour not in PARTIAL_HOUR:
        raise ValueError(f"data.prices.partial_hour must be one of {list(PARTIAL_HOUR)}, got {partial_hour!r}")
    if stamp_marks not in STAMP_MARKS:
        raise ValueError(f"data.prices.stamp_marks must be one of {list(STAMP_MARKS)}, got {stamp_marks!r}")
    df = read_text_csv(file, separator)
    require_columns(df, [timestamp_column, price_column], file)
    if timezone is None and file_timezone is None and TIMEZONE in df.columns and timestamp_column == TIMESTAMP:
        zones = df[TIMEZONE].dropna().unique()
        if len(zones) != 1:
            raise DataValidationError(file, f"one time zone expected, found {list(zones)}", column=TIMEZONE)
        timezone = str(zones[0])
    rows_in_file = len(df)
    df = _select_series(df, file, timestamp_column, price_column, row_filter)
    if counts is not None:
        counts |= {"rows_in_file": rows_in_file, "rows_read": len(df)}
    stamps, not_in_zone = parse_timestamps(df[timestamp_column], timezone, file_timezone)
    df = _reject(df, stamps.isna() & ~not_in_zone, file, timestamp_column, quarantine, reasons.NOT_A_TIMESTAMP,
                 timestamp_column)
    df = _reject(df, not_in_zone.loc[df.index], file, timestamp_column, quarantine, reasons.TIME_NOT_IN_ZONE,
                 timestamp_column, str(file_timezone or timezone))
    df = coerce_numeric(df, price_column, file, quarantine, reasons.NOT_A_NUMBER)
    df = df.assign(**{TIMESTAMP: stamps.loc[df.index]})
    df = _reject(df, df[TIMESTAMP].duplicated(keep="first"), file, timestamp_column, quarantine,
                 reasons.DUPLICATE_TIMESTAMP, timestamp_column)
    backwards = df[TIMESTAMP].diff() < pd.Timedelta(0)
    if backwards.any():  # order is meaning in a time series: never re-sort a user's file silently
        i = backwards.idxmax()
        raise DataValidationError(file, f"timestamp earlier than the row before: {df.at[i, timestamp_column]!r}",
                                  file_row(i), timestamp_column)
    if df.empty:
        raise DataValidationError(file, "no row with a readable time and a finite price"
                                  + (" (see the quarantine)" if quarantine is not None and quarantine.total else ""),
                                  column=price_column)
    try:
        hours = to_hours(df[TIMESTAMP], df[price_column].astype(float) * scale, stamp_marks)
    except ValueError as exc:
        raise DataValidationError(file, str(exc), column=timestamp_column) from None
    stamps_read = df[TIMESTAMP]
    if hours.partial.any():
        df = _partial_hours(df, hours, file, timestamp_column, quarantine, partial_hour, stamp_marks)
    if counts is not None:
        counts |= {"rows_accepted": len(df), "cadence_s": hours.cadence.total_seconds(),
                   "irregular_stamps": int(hours.irregular.sum()), "partial_hours": len(hours.partial_hours),
                   "stamp_marks": stamp_marks, "span": span(stamps_read, hours)}
    # the index keeps each hour's first source row for later error messages
    return pd.DataFrame({TIMESTAMP: hours.table["hour"], PRICE: hours.table["price"]}, index=hours.table.index)


def span(stamps: pd.Series, hours) -> str:
    """What a message about the start shows: the file's first and last timestamps (as read, in
    the schedule's zone), its cadence and what became of finer rows."""
    zone = stamps.dt.tz
    text = (f"the file's rows run from {stamps.iloc[0]} to {stamps.iloc[-1]}{f' ({zone})' if zone else ''}, "
            f"one row every {describe_cadence(hours.cadence)}")
    if hours.expected > 1:
        text += f" (time-weighted into hourly means; stamps mark interval {hours.marks}s)"
    irregular = int(hours.irregular.sum())
    return text + (f", {irregular} irregular stamp(s)" if irregular else "")


def _partial_hours(df: pd.DataFrame, hours, file: Path, column: str, quarantine: Quarantine | None,
                   policy: str, marks: str) -> pd.DataFrame:
    """Quarantine the rows of hours that hold fewer regular rows than the cadence asks, or refuse
    the first such hour."""
    found = hours.partial_hours
    detail = (f"(fewer than the {hours.expected} rows every {describe_cadence(hours.cadence)} of a whole hour; "
              f"stamps mark interval {marks}s)")
    if quarantine is None or policy == "error":
        first_hour = found.index[0]
        i = hours.partial.idxmax()
        hint = " (data.prices.partial_hour=quarantine sets such hours aside)" if policy == "error" else ""
        raise DataValidationError(file, f"{reasons.PARTIAL_HOUR.code}: the hour from {first_hour} holds "
                                        f"{int(found.iloc[0])} of the {hours.expected} rows every "
                                        f"{describe_cadence(hours.cadence)} it needs{hint}: {df.at[i, column]!r}",
                                  file_row(i), column)
    return quarantine.split(df, hours.partial, reasons.PARTIAL_HOUR, column, detail)


def write_price_file(prices: pd.DataFrame, path: Path) -> Path:
    """prices.csv in the contract's layout (a `timezone` column when the timestamps have one)."""
    out = prices[[TIMESTAMP, PRICE]].copy()
    zone = out[TIMESTAMP].dt.tz
    if zone is not None:
        out[TIMEZONE] = str(zone)
    out.to_csv(path, index=False)
    return path
