"""Price files finer than an hour (a real-time market's 5-minute rows with irregular extra stamps),
the file's zone apart from the schedule's, and the start error that shows the file's span."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.contracts.prices import PRICE, TIMESTAMP, read_price_file
from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.data.prices.stage import load_prices, prepare
from tests.conftest import make_cfg, shared_file

NY = "America/New_York"
LBMP = "LBMP ($/MWHr)"
# hour 15's twelve 5-minute prices: a spike whose first interval (the hh:00 row) is 2.2x the hour's mean
SPIKE = [667.26, 612.40, 388.10, 301.75, 255.30, 230.15, 214.60, 205.90, 199.35, 196.80, 192.44, 190.67]
EXTRA = ["02:17:41", "03:32:10", "08:02:20", "21:52:02"]  # stamps off the 5-minute grid


def nyiso_rt(tmp_path, day="2021-07-01", extra=EXTRA, drop=(), marks_end=False, zone_of_stamps=None):
    """A NYISO real-time zonal export: `"Time Stamp","Name","PTID","LBMP ($/MWHr)",...`, 5-minute
    rows for two zones, irregular extra stamps; N.Y.C.'s hour 15 is SPIKE, its other 5-minute rows
    40 + minute / 5, an irregular row 90. `drop`: N.Y.C. stamps left out; `marks_end`: the day's
    rows stamped 00:05 ... 24:00; `zone_of_stamps`: the stamps written in that zone instead."""
    first = pd.Timestamp(day) + (pd.Timedelta(minutes=5) if marks_end else pd.Timedelta(0))
    regular = pd.date_range(first, periods=288, freq="5min")
    irregular = pd.DatetimeIndex([pd.Timestamp(f"{day} {t}") for t in extra])
    lines = ['"Time Stamp","Name","PTID","LBMP ($/MWHr)","Marginal Cost Losses ($/MWHr)",'
             '"Marginal Cost Congestion ($/MWHr)"']
    for t in regular.append(irregular).sort_values():
        label = t - pd.Timedelta(minutes=5) if marks_end and t in regular else t  # the interval's start
        if label.hour == 15 and t in regular:
            nyc = SPIKE[label.minute // 5]
        else:
            nyc = 40 + label.minute / 5 if t in regular else 90.0
        shown = t.tz_localize(NY).tz_convert(zone_of_stamps) if zone_of_stamps else t
        for name, ptid, price in (("CAPITL", 61757, 30.0), ("N.Y.C.", 61761, nyc)):
            if name == "N.Y.C." and f"{t:%H:%M:%S}" in drop:
                continue
            lines.append(f'"{shown:%m/%d/%Y %H:%M:%S}","{name}",{ptid},{price:.2f},-0.50,-1.25')
    path = tmp_path / "rtlbmp.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def rt_cfg(path, start="2021-07-01 00:00:00", **extra):
    return OmegaConf.create({"source": "csv", "path": str(path), "timestamp_column": "Time Stamp",
                             "price_column": LBMP, "separator": ",", "timezone": NY, "file_timezone": None,
                             "stamp_marks": "start", "partial_hour": "quarantine",
                             "filter": {"column": "Name", "equals": "N.Y.C."}, "to_usd_per_mwh": 1.0,
                             "start": start, **extra})


def test_a_5_minute_file_gives_each_hour_the_time_weighted_mean_of_its_rows(tmp_path):
    counts: dict = {}
    prices = load_prices(rt_cfg(nyiso_rt(tmp_path)), 24, Quarantine("rt"), counts)
    assert len(prices) == 24 and prices[TIMESTAMP].iloc[0] == pd.Timestamp("2021-07-01 00:00", tz=NY)
    assert prices[PRICE].iloc[15] == pytest.approx(304.56, abs=1e-9)  # not 667.26, the hh:00 row
    assert sum(SPIKE) / 12 == pytest.approx(304.56)
    assert prices[PRICE].iloc[0] == pytest.approx(sum(40 + k for k in range(12)) / 12)
    # 03:32:10 holds until 03:35: the 03:30 row (40 + 6) holds 130 s, the irregular row (90) 170 s
    expected = (sum(40 + k for k in range(12)) * 300 - 46 * 300 + 46 * 130 + 90 * 170) / 3600
    assert prices[PRICE].iloc[3] == pytest.approx(expected)
    assert counts | {"span": ""} == counts | {"rows_read": 292, "rows_accepted": 292, "cadence_s": 300.0,
                                               "irregular_stamps": 4, "partial_hours": 0, "span": ""}


def test_a_start_at_midnight_works_on_a_sub_hourly_file_and_the_stage_counts_what_it_did(tmp_path):
    cfg = make_cfg(tmp_path, ["data/prices=csv", f"data.prices.path={nyiso_rt(tmp_path)}",
                              "data.prices.timestamp_column=Time Stamp", f'data.prices.price_column="{LBMP}"',
                              "data.prices.filter={column: Name, equals: N.Y.C.}", f"data.prices.timezone={NY}",
                              "data.prices.start='2021-07-01 00:00:00'", "optimize.horizon_hours=24"])
    metrics = prepare(cfg, tmp_path / "out", tmp_path / "rep")
    written = pd.read_csv(tmp_path / "out" / "prices.csv")
    assert len(written) == 24 and written[PRICE].iloc[15] == pytest.approx(304.56)
    assert metrics["rows_read"] == 292 == metrics["rows_accepted"] + metrics["quarantined_rows"]
    assert (metrics["cadence_s"], metrics["irregular_stamps"], metrics["partial_hours"]) == (300.0, 4, 0)


def test_files_that_stamp_interval_ends_are_read_with_stamp_marks_end(tmp_path):
    path = nyiso_rt(tmp_path, extra=(), marks_end=True)  # 00:05 ... 24:00
    prices = load_prices(rt_cfg(path, stamp_marks="end"), 24, Quarantine("rt"))
    assert prices[PRICE].iloc[15] == pytest.approx(304.56) and prices[PRICE].iloc[0] == pytest.approx(45.5)
    with pytest.raises(DataValidationError, match=r"first missing: 2021-07-01 00:00:00-04:00\).*partial_hour.*"
                                                  r"set data.prices.stamp_marks=end.*the file's rows run from "
                                                  r"2021-07-01 00:05:00-04:00 to 2021-07-02 00:00:00-04:00"):
        load_prices(rt_cfg(path), 24, Quarantine("rt"))


def test_a_partial_hour_is_quarantined_or_refused_by_config(tmp_path):
    path = nyiso_rt(tmp_path, drop=("10:25:00",))
    q = Quarantine(path)
    counts: dict = {}
    table = read_price_file(path, "Time Stamp", LBMP, timezone=NY, row_filter={"column": "Name", "equals": "N.Y.C."},
                            quarantine=q, counts=counts)
    assert len(table) == 23 and pd.Timestamp("2021-07-01 10:00", tz=NY) not in set(table[TIMESTAMP])
    assert q.counts == {"partial_hour": 11} and counts["partial_hours"] == 1
    assert counts["rows_accepted"] + q.total == counts["rows_read"]
    with pytest.raises(DataValidationError, match=r"no price for 1 of the 24 hours .*first missing: "
                                                  r"2021-07-01 10:00:00-04:00.*11 row\(s\) of those hours quarantined"):
        load_prices(rt_cfg(path), 24, Quarantine(path))
    with pytest.raises(DataValidationError, match=r"row \d+, column 'Time Stamp': partial_hour: the hour from "
                                                  r"2021-07-01 10:00:00-04:00 holds 11 of the 12 rows every 5 min"):
        load_prices(rt_cfg(path, partial_hour="error"), 24, Quarantine(path))


def test_a_utc_file_is_scheduled_in_local_hours(tmp_path):
    path = nyiso_rt(tmp_path, extra=(), zone_of_stamps="UTC")  # the same prices, stamped in UTC
    prices = load_prices(rt_cfg(path, file_timezone="UTC", start="2021-07-01 01:00:00"), 16, Quarantine("rt"))
    assert prices[TIMESTAMP].iloc[14] == pd.Timestamp("2021-07-01 15:00", tz=NY)
    assert prices[PRICE].iloc[14] == pytest.approx(304.56)


def test_an_error_about_the_start_shows_the_files_first_and_last_timestamps(tmp_path):
    with pytest.raises(DataValidationError, match=r"no price for 24 of the 24 hours from 2021-08-01 00:00:00 .*"
                                                  r"the file's rows run from 2021-07-01 00:00:00-04:00 to "
                                                  r"2021-07-01 23:55:00-04:00 \(America/New_York\), one row every "
                                                  r"5 min \(time-weighted into hourly means.*4 irregular stamp"):
        load_prices(rt_cfg(nyiso_rt(tmp_path), start="2021-08-01 00:00:00"), 24, Quarantine("rt"))


def test_a_cadence_that_does_not_divide_an_hour_is_one_error(tmp_path):
    stamps = pd.date_range("2021-07-01", periods=40, freq="7min")
    path = tmp_path / "p.csv"
    path.write_text("date,price\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},40\n" for t in stamps))
    with pytest.raises(DataValidationError, match="rows every 7 min: an hour is not a whole number"):
        read_price_file(path, "date", "price")


def test_an_hourly_file_with_a_stray_half_hour_stamp_averages_that_hour(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("date,price\n2021-01-01 00:00,10\n2021-01-01 01:00,20\n2021-01-01 01:30,40\n2021-01-01 02:00,5\n"
                    "2021-01-01 03:00,6\n")
    counts: dict = {}
    table = read_price_file(path, "date", "price", counts=counts)
    assert table[PRICE].tolist() == [10.0, 30.0, 5.0, 6.0] and counts["irregular_stamps"] == 1


EXPECTED_MD5 = {  # prices.csv as the stage wrote it before sub-hourly files were read (main at 4fa54c6)
    "default": "9396cab7f6b0d8bc08a1d4ec73837465",
    "caiso": "af4323821baec0fbffdde82bace23ee7",
    "caiso_week": "83c75a98c6a8424de0ddafeb3d44341d",
    "caiso_la": "35a9ae7357621a0e69bc326b5650c3ff",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_MD5))
def test_hourly_files_load_exactly_as_before(tmp_path, name):
    overrides = ["optimize.horizon_hours=24"]  # the tiny configuration's 3 hours otherwise
    if name != "default":
        path = shared_file("prices", "CAISO_avg_price_hourly_2021.csv")
        overrides += ["data/prices=caiso", f"data.prices.path={path}"]
    if name == "caiso_week":
        overrides += ["optimize.horizon_hours=168", "data.prices.start='2021-03-13 00:00:00'"]
    if name == "caiso_la":
        overrides += ["optimize.horizon_hours=72", "data.prices.start='2021-07-06 00:00:00'",
                      "data.prices.timezone=America/Los_Angeles"]
    cfg = make_cfg(tmp_path, overrides)
    prepare(cfg, tmp_path / "out", tmp_path / "rep")
    assert hashlib.md5((tmp_path / "out" / "prices.csv").read_bytes()).hexdigest() == EXPECTED_MD5[name]


def test_a_column_hydra_cannot_read_unquoted_gets_the_quoting_hint_and_the_quoted_form_composes(tmp_path):
    from pipeline.core.compose import compose

    for unquoted in (f"data.prices.price_column={LBMP}", "data.prices.timestamp_column=Time Stamp (UTC)"):
        with pytest.raises(ValueError, match=r"must be quoted for Hydra inside the shell's quotes: "
                                             r"'data\.prices\.price_column=\"LBMP \(\$/MWHr\)\"'"):
            compose(["data/prices=csv", unquoted], output=tmp_path / "p.yaml")
    cfg = OmegaConf.load(compose(["data/prices=csv", f'data.prices.price_column="{LBMP}"',
                                  'data.prices.timestamp_column="Time Stamp (UTC)"'], output=tmp_path / "p.yaml"))
    assert (cfg.data.prices.price_column, cfg.data.prices.timestamp_column) == (LBMP, "Time Stamp (UTC)")
