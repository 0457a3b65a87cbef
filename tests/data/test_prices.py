"""Price loaders: default profile, CAISO export, any CSV by mapping, and a corpus of bad files."""
from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.contracts.prices import PRICE, read_price_file
from pipeline.data.prices.stage import load_prices, prepare
from tests.conftest import make_cfg, shared_file


def caiso_cfg(path, start="2021-01-01 00:00:00"):
    return OmegaConf.create({"source": "caiso", "path": str(path), "start": start})


def write(tmp_path, text, name="p.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def hourly(n, start="2021-01-01 00:00:00", price=lambda i: 40 + i):
    stamps = pd.date_range(start, periods=n, freq="h")
    return "date,price\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},{price(i)}\n" for i, t in enumerate(stamps))


def test_default_profile_repeats_over_longer_horizons(tiny_cfg):
    day = load_prices(tiny_cfg.data.prices, 24)
    week = load_prices(tiny_cfg.data.prices, 24 * 7)
    assert len(week) == 168 and week["timestamp"].is_monotonic_increasing
    assert week[PRICE].iloc[24:48].tolist() == day[PRICE].tolist()
    assert list(tiny_cfg.data.prices.profile_usd_per_mwh) == day[PRICE].tolist()


def test_stage_writes_horizon_rows_and_metrics(tiny_cfg, tmp_path):
    metrics = prepare(tiny_cfg, tmp_path / "out", tmp_path / "rep")
    written = pd.read_csv(tmp_path / "out" / "prices.csv")
    assert len(written) == tiny_cfg.optimize.horizon_hours == metrics["hours"]
    assert metrics["quarantined_rows"] == 0
    assert (tmp_path / "rep" / "prices_quarantine.csv").exists()


def test_caiso_window_selects_requested_day(tmp_path):
    path = write(tmp_path, hourly(72))
    prices = load_prices(caiso_cfg(path, "2021-01-02 00:00:00"), 24)
    assert prices[PRICE].tolist() == [40.0 + i for i in range(24, 48)]


def test_csv_mapping_with_zone_filter_timezone_and_units(tmp_path):
    rows = ["ts;zone;usd_kwh"]
    for i, t in enumerate(pd.date_range("2021-06-01 00:00", periods=30, freq="h", tz="UTC")):
        rows += [f"{t.isoformat()};NP15;0.0{i % 10}", f"{t.isoformat()};SP15;0.5"]
    path = write(tmp_path, "\n".join(rows) + "\n")
    cfg = OmegaConf.create({"source": "csv", "path": str(path), "timestamp_column": "ts", "price_column": "usd_kwh",
                            "separator": ";", "timezone": "America/Los_Angeles",
                            "filter": {"column": "zone", "equals": "NP15"}, "to_usd_per_mwh": 1000.0,
                            "start": "2021-05-31 18:00:00"})
    prices = load_prices(cfg, 3)
    # 2021-06-01 01:00 UTC is 18:00 PDT the day before; i = 1
    assert prices[PRICE].tolist() == pytest.approx([10.0, 20.0, 30.0])


def test_real_caiso_2021_file_loads_whole_year():
    path = shared_file("prices", "CAISO_avg_price_hourly_2021.csv")
    q = Quarantine(path)
    table = read_price_file(path, "date", "price", quarantine=q)
    assert len(table) == 8760 and q.total == 0
    assert table[PRICE].min() < 0  # CAISO has negative-price hours; they are kept
    assert len(load_prices(caiso_cfg(path, "2021-07-01 00:00:00"), 24 * 7)) == 168


@pytest.mark.parametrize("text, reason", [
    ("date,price\n2021-01-01 00:00:00,abc\n2021-01-01 01:00:00,4\n", "not_a_number"),
    ("date,price\n2021-01-01 00:00:00,\n2021-01-01 01:00:00,4\n", "not_a_number"),
    ("date,price\n2021-01-01 00:00:00,inf\n2021-01-01 01:00:00,4\n", "not_a_number"),
    ("date,price\n2021-01-01 00:00:00,NaN\n2021-01-01 01:00:00,4\n", "not_a_number"),
    ("date,price\n2021-01-01 00:00:00,3\n2021-01-01 00:00:00,4\n", "duplicate_timestamp"),
    ("date,price\nnot-a-date,3\n2021-01-01 01:00:00,4\n", "not_a_timestamp"),
])
def test_bad_rows_are_quarantined_with_reason_and_row(tmp_path, text, reason):
    q = Quarantine("p.csv")
    table = read_price_file(write(tmp_path, text), "date", "price", quarantine=q)
    assert q.counts == {reason: 1} and len(table) == 1
    out = pd.read_csv(q.write(tmp_path / "q.csv"))
    assert out["reason"].tolist() == [reason] and out["source_row"].tolist() in ([2], [3])


@pytest.mark.parametrize("text, match", [
    ("when,price\n2021-01-01 00:00:00,3\n", r"missing column\(s\) \['date'\]"),
    ("date,price\nnot-a-date,3\n", r"row 2, column 'date': not_a_timestamp"),
    ("date,price\n2021-01-01 01:00:00,3\n2021-01-01 00:00:00,4\n", r"row 3, column 'date': timestamp earlier"),
    ("date,price\n2021-01-01 00:00:00,x\n", r"row 2, column 'price': not a finite number"),
])
def test_file_errors_name_file_row_and_column(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError, match=match) as err:
        read_price_file(path, "date", "price")
    assert str(path) in str(err.value)


def test_missing_hours_in_window_are_an_error(tmp_path):
    path = write(tmp_path, hourly(10))
    with pytest.raises(DataValidationError, match="no price for 14 of the 24 hours"):
        load_prices(caiso_cfg(path), 24)


def test_bad_profile_and_source_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="need 24 finite numbers"):
        load_prices(OmegaConf.create({"source": "profile", "profile_usd_per_mwh": [1, 2], "start": "2021-01-01"}), 3)
    with pytest.raises(ValueError, match="source must be"):
        load_prices(OmegaConf.create({"source": "xls", "path": "x"}), 3)
    with pytest.raises(FileNotFoundError, match="price file not found"):
        load_prices(caiso_cfg(tmp_path / "nope.csv"), 3)
