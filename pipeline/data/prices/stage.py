"""Hourly electricity prices for the schedule: a default profile, a CAISO/Energy Online
export (`date,price`), or any CSV by column mapping.

Output: data/prices/prices.csv in the columns of pipeline/contracts/prices.py, exactly
`optimize.horizon_hours` rows from `data.prices.start`.
Negative prices are real (CAISO has them) and kept; they are counted in the metrics.

The horizon counts elapsed hours: `optimize.horizon_hours` consecutive hours of real time from
`data.prices.start`, a wall time in `data.prices.timezone`. On the day clocks spring forward (23
local hours) a 24-hour horizon from midnight therefore ends at 01:00 the next day; on the day
they fall back (25 local hours) it ends at 23:00, and the repeated 01:00 is scheduled twice, once
per UTC offset. Each hour keeps its own price; the hour of day used for the outside temperature
profile is the local one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.price_hours import hour_of
from pipeline.contracts.quarantine import PARTIAL_HOUR
from pipeline.contracts.prices import PRICE, PRICES_FILE, TIMESTAMP, parse_timestamps, read_price_file, write_price_file
from pipeline.core.validation import DataValidationError, Quarantine

QUARANTINE_FILE = "prices_quarantine.csv"
# What a file source adds to the metrics: its size, its step between rows (3600 s: hourly), stamps
# off that step (kept, time-weighted) and hours without all their rows (quarantined or refused).
FILE_METRICS = ("rows_in_file", "cadence_s", "irregular_stamps", "partial_hours")


def profile_prices(profile: list[float], start: str, hours: int) -> pd.DataFrame:
    """The 24-hour profile (hour 0 first) repeated over `hours` from `start`."""
    values = np.asarray(profile, dtype=float)
    if values.shape != (24,) or not np.all(np.isfinite(values)):
        raise ValueError(f"data.prices.profile_usd_per_mwh: need 24 finite numbers, got {list(profile)}")
    stamps = pd.date_range(pd.Timestamp(start), periods=hours, freq="h")
    return pd.DataFrame({TIMESTAMP: stamps, PRICE: values[stamps.hour]})


def first_hour(start: str, zone) -> pd.Timestamp:
    """`start` as a wall time in `zone` (None: naive); an error naming data.prices.start when
    that wall time does not exist there (the skipped hour of a spring-forward day)."""
    first = pd.Timestamp(start)
    if zone is None or first.tzinfo is not None:
        return first if zone is None else first.tz_convert(zone)
    try:
        return first.tz_localize(zone, ambiguous=True, nonexistent="raise")  # a repeated hour: its first pass
    except Exception as exc:  # pandas' NonExistentTimeError
        raise ValueError(f"data.prices.start = {start!r} does not exist in {zone} (clocks skip it): "
                         "start an hour later") from exc


def window(prices: pd.DataFrame, start: str, hours: int, file: Path,
           quarantined: pd.DataFrame | None = None, span: str = "", marks: str = "start") -> pd.DataFrame:
    """The `hours` hourly prices from `start` (elapsed hours); an error naming the first missing
    hour, the file's first and last timestamps (`span`) and, where a missing hour's rows were
    quarantined, those rows and their reasons."""
    first = first_hour(start, prices[TIMESTAMP].dt.tz)
    wanted = pd.date_range(first, periods=hours, freq="h")
    indexed = prices.set_index(TIMESTAMP)[PRICE]
    missing = wanted.difference(indexed.index)
    if len(missing):
        cause = _quarantined_cause(missing, quarantined, marks)
        if prices[TIMESTAMP].dt.tz is None and len(missing) == 1 and cause.startswith("; check"):
            cause += ("; if the file is in local time, this may be the hour a DST change skips: set "
                      "data.prices.timezone (e.g. America/Los_Angeles) and the horizon counts elapsed hours")
        raise DataValidationError(file, f"no price for {len(missing)} of the {hours} hours from {start} "
                                        f"(first missing: {missing[0]}){cause}{'; ' + span if span else ''}",
                                  column=TIMESTAMP)
    return pd.DataFrame({TIMESTAMP: wanted, PRICE: indexed.loc[wanted].to_numpy()})


def _quarantined_cause(missing: pd.DatetimeIndex, quarantined: pd.DataFrame | None, marks: str) -> str:
    """What the quarantine says about the missing hours: their rows and reasons, and rows whose
    time could not be read (any of them may be a missing hour)."""
    plain = "; check data.prices.start and the file's span"
    if quarantined is None or quarantined.empty:
        return plain
    hit = quarantined[quarantined["hour"].isin(missing)]
    unknown = quarantined[quarantined["time"].isna()]
    parts = []
    if len(hit):
        rows = ", ".join(f"row {r.source_row} ({r.reason}: {r.reason_text})" for r in hit.head(5).itertuples())
        parts.append(f"{len(hit)} row(s) of those hours quarantined: {rows}"
                     + (f" and {len(hit) - 5} more" if len(hit) > 5 else ""))
        if (hit["reason"] == PARTIAL_HOUR.code).any() and marks == "start":
            parts.append("if the file stamps each interval's end (its day's first row at 00:05), set "
                         "data.prices.stamp_marks=end")
    if len(unknown):
        first = unknown.iloc[0]
        parts.append(f"{len(unknown)} row(s) quarantined with an unreadable time (first: row {first.source_row}, "
                     f"{first.reason})")
    if not parts:
        return plain
    return ": " + "; ".join(parts) + f"; see {QUARANTINE_FILE} beside the stage's metrics (reports/data/)"


FILE_OPTIONS = ("timezone", "file_timezone", "stamp_marks", "partial_hour")  # of both file sources


def _options(pcfg: DictConfig) -> dict:
    """read_price_file's arguments for the configured source (a file option left out of the
    config keeps the reader's default)."""
    shared = {key: pcfg[key] for key in FILE_OPTIONS if key in pcfg}
    if pcfg.source == "caiso":
        return {"timestamp_column": "date", "price_column": "price", **shared}
    row_filter = OmegaConf.to_container(pcfg.filter) if pcfg.get("filter") else None
    return {"timestamp_column": pcfg.timestamp_column, "price_column": pcfg.price_column,
            "separator": pcfg.separator, "row_filter": row_filter, "scale": float(pcfg.to_usd_per_mwh), **shared}


def load_prices(pcfg: DictConfig, hours: int, quarantine: Quarantine | None = None,
                counts: dict | None = None) -> pd.DataFrame:
    """Prices for the schedule from the `data.prices` config group."""
    if hours < 1:
        raise ValueError(f"optimize.horizon_hours must be >= 1, got {hours}")
    if pcfg.source == "profile":
        prices = profile_prices(list(pcfg.profile_usd_per_mwh), pcfg.start, hours)
        if counts is not None:
            counts |= {"rows_read": hours}
        return prices
    if pcfg.source not in ("caiso", "csv"):
        raise ValueError(f"data.prices.source must be profile, caiso or csv, got {pcfg.source!r}")
    file = Path(pcfg.path)
    options = _options(pcfg)
    found: dict = {}
    table = read_price_file(file, quarantine=quarantine, counts=found, **options)
    if counts is not None:
        counts |= found
    quarantined = None
    if quarantine is not None and quarantine.total:
        quarantined = quarantine.rows()
        times = parse_timestamps(quarantined[options["timestamp_column"]], options.get("timezone"),
                                 options.get("file_timezone"))[0]
        quarantined["time"] = times
        quarantined["hour"] = hour_of(times, found["stamp_marks"])
    return window(table, pcfg.start, hours, file, quarantined, found["span"], found["stamp_marks"])


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Stage body of `python -m pipeline.data prices`. The quarantine file is written even when
    the stage fails, since it holds the rows that explain the failure."""
    pcfg = cfg.data.prices
    quarantine = Quarantine(pcfg.path or "profile")
    counts: dict = {}
    try:
        prices = load_prices(pcfg, int(cfg.optimize.horizon_hours), quarantine, counts)
    finally:
        quarantine.write(Path(reports_dir) / QUARANTINE_FILE)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_price_file(prices, out_dir / PRICES_FILE)
    p = prices[PRICE]
    balance = quarantine.metrics(counts["rows_read"], counts.get("rows_accepted", counts["rows_read"]))
    extra = {key: counts[key] for key in FILE_METRICS if key in counts}
    zone = prices[TIMESTAMP].dt.tz
    return {"source": str(pcfg.source), "hours": len(prices), "price_min": float(p.min()),
            "price_mean": float(p.mean()), "price_max": float(p.max()),
            "negative_price_hours": int((p < 0).sum()), **extra, **balance,
            **({"timezone": str(zone), "first_hour": str(prices[TIMESTAMP].iloc[0]),
                "last_hour": str(prices[TIMESTAMP].iloc[-1])} if zone is not None else {})}
