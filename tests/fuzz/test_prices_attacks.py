"""Generated attacks on the price door (pipeline/contracts/prices.py through the prepare_prices
stage): hourly, 15- and 5-minute files in several zones around DST changes, written as wall time
or with offsets, with irregular stamps, then corrupted (cells, rows, columns, separators,
encodings). The stage answers with hourly prices the optimiser's reader accepts, rows read =
accepted + quarantined, or refuses in one line; never a traceback. And on clean sub-hourly files
each hour's price is the time-weighted mean of its rows, against a second-by-second reference."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contracts.prices import PRICE, PRICES_FILE, TIMESTAMP, read_price_file
from tests.fuzz.file_doors import attack_stage, cases, corrupt_table, encode

ZONES = [None, "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]
DAYS = ["2021-03-14", "2021-03-28", "2021-07-01", "2021-10-31", "2021-11-07"]  # US and EU DST changes


@st.composite
def price_files(draw):
    """(file bytes, data.prices options, horizon hours, start) of a price file as exported, corrupted."""
    minutes = draw(st.sampled_from([5, 15, 60]), label="cadence")
    zone = draw(st.sampled_from(ZONES), label="zone")
    first = pd.Timestamp(f"{draw(st.sampled_from(DAYS))} 00:00", tz=zone) + pd.Timedelta(hours=draw(st.integers(0, 3)))
    hours = draw(st.integers(1, 4), label="hours")
    n = draw(st.integers(hours * 60 // minutes, 5 * 60 // minutes) | st.integers(1, 5 * 60 // minutes), label="rows")
    stamps = list(pd.date_range(first, periods=n, freq=f"{minutes}min"))
    extra = draw(st.lists(st.integers(1, n * minutes * 60 - 1), max_size=4, unique=True), label="irregular seconds")
    stamps = sorted(set(stamps) | {first + pd.Timedelta(seconds=s) for s in extra})
    written = draw(st.sampled_from(["wall", "offset"] if zone else ["wall"]), label="stamps written")
    show = (lambda t: t.isoformat()) if written == "offset" else (lambda t: f"{t:%Y-%m-%d %H:%M:%S}")
    prices = draw(st.lists(st.floats(-500, 5000, allow_nan=False), min_size=len(stamps), max_size=len(stamps)))
    header, rows = corrupt_table(draw, ["ts", "price", "zone"], [[show(t), repr(p), "N.Y.C."] for t, p in zip(stamps, prices)])
    options = {"timezone": zone, "file_timezone": draw(st.sampled_from([None] * 4 + ["UTC"])) if zone else None,
               "stamp_marks": draw(st.sampled_from(["start"] * 4 + ["end"])),
               "partial_hour": draw(st.sampled_from(["quarantine"] * 3 + ["error"]))}
    return encode(draw, header, rows, ","), options, hours, f"{first:%Y-%m-%d %H:%M:%S}"


@settings(max_examples=cases(60))
@given(price_files())
def test_the_price_stage_answers_hourly_or_refuses_in_one_line(case):
    data, options, hours, start = case
    base = {"optimize": {"horizon_hours": hours}, "data": {"prices": {
        "source": "csv", "timestamp_column": "ts", "price_column": "price", "separator": ",", "filter": None,
        "to_usd_per_mwh": 1.0, "start": start}}}

    def hourly(out: Path, metrics: dict) -> None:
        written = read_price_file(out / PRICES_FILE)  # what the optimiser reads
        assert len(written) == hours == metrics["hours"] and np.isfinite(written[PRICE]).all()
        assert (written[TIMESTAMP].diff().dropna() == pd.Timedelta(hours=1)).all()

    attack_stage("prices", base, data, options, hourly)


@st.composite
def sub_hourly(draw):
    """A clean real-time file: whole hours of rows on a cadence, and irregular extra stamps as
    markets add them (at odd seconds, fewer than a third of the regular rows; with more, or on
    whole minutes, a file no longer says its own cadence)."""
    minutes = draw(st.sampled_from([5, 10, 15, 30]))
    hours = draw(st.integers(1, 3))
    marks = draw(st.sampled_from(["start", "end"]))
    step = minutes * 60
    grid = list(range(step if marks == "end" else 0, hours * 3600 + (1 if marks == "end" else 0), step))
    extra = draw(st.lists(st.integers(1, hours * 3600 - 1).filter(lambda s: s % 60), max_size=len(grid) // 3,
                          unique=True))
    seconds = sorted(set(grid) | set(extra))
    values = draw(st.lists(st.floats(-1000, 10_000, allow_nan=False, allow_subnormal=False),
                           min_size=len(seconds), max_size=len(seconds)))
    return marks, hours, seconds, values, len(extra)


@settings(max_examples=cases(30))
@given(sub_hourly())
def test_each_hour_is_the_time_weighted_mean_of_its_rows(case):
    marks, hours, seconds, values, irregular = case
    day = pd.Timestamp("2021-07-01 00:00")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_text("ts,price\n" + "".join(f"{day + pd.Timedelta(seconds=s)},{v!r}\n"
                                                for s, v in zip(seconds, values)))
        counts: dict = {}
        table = read_price_file(path, "ts", "price", stamp_marks=marks, counts=counts)
    stamps, series = np.asarray(seconds), np.asarray(values)
    for h in range(hours):
        second = np.arange(h * 3600, (h + 1) * 3600)
        # the price in force during [s, s+1): the last row stamped at or before s (stamps mark starts), or
        # the first row stamped at or after s+1 (stamps mark ends)
        at = (np.searchsorted(stamps, second, side="right") - 1 if marks == "start"
              else np.searchsorted(stamps, second + 1, side="left"))
        assert table[PRICE].iloc[h] == pytest.approx(series[at].mean(), rel=1e-9, abs=1e-9)
    assert len(table) == hours and counts["partial_hours"] == 0 and counts["irregular_stamps"] == irregular
