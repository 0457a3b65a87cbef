"""Price files as people have them: several zones in one file, bad values inside the horizon,
the 23- and 25-hour days of a DST change, UTC offsets, a unit factor with the wrong sign."""
from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.contracts.prices import PRICE, PRICES_FILE, TIMESTAMP, read_price_file
from pipeline.core.settings.schema import ConfigError
from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.data.prices.stage import QUARANTINE_FILE, load_prices, prepare
from pipeline.optimize.instance import read_prices
from tests.conftest import make_cfg

LA = "America/Los_Angeles"


def csv_cfg(path, start, timezone=LA, **extra):
    return OmegaConf.create({"source": "csv", "path": str(path), "timestamp_column": "ts", "price_column": "price",
                             "separator": ",", "timezone": timezone, "filter": None, "to_usd_per_mwh": 1.0,
                             "start": start, **extra})


def local_day_file(tmp_path, first_day: str, days: int = 3) -> tuple:
    """A local-time file as a utility publishes it: one row per hour the clock shows (23 on the
    spring-forward day, 25 with a repeated 01:00 on the fall-back day); price = row number."""
    hours = pd.date_range(pd.Timestamp(first_day, tz=LA), periods=days * 24 + 2, freq="h")
    hours = hours[hours < pd.Timestamp(first_day, tz=LA) + pd.Timedelta(days=days)]
    wall = hours.tz_localize(None)
    path = tmp_path / "local.csv"
    pd.DataFrame({"ts": wall.strftime("%Y-%m-%d %H:%M:%S"), "price": range(len(wall))}).to_csv(path, index=False)
    return path, hours


def test_a_file_with_several_zones_and_no_filter_names_the_column_and_its_values(tmp_path):
    stamps = pd.date_range("2021-06-01", periods=48, freq="h")
    rows = [(f"{t:%Y-%m-%d %H:%M:%S}", zone, 30 + i) for i, t in enumerate(stamps) for zone in ("NP15", "SP15", "ZP26")]
    path = tmp_path / "zones.csv"
    pd.DataFrame(rows, columns=["ts", "zone", "price"]).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=r"zones\.csv, column 'zone': holds 3 price series told apart by "
                                                  r"column 'zone' \(NP15, SP15, ZP26\); choose one with "
                                                  r"data\.prices\.filter=\{column: zone, equals: NP15\}"):
        load_prices(csv_cfg(path, "2021-06-01 00:00:00", timezone=None), 24, Quarantine(path))
    chosen = load_prices(csv_cfg(path, "2021-06-01 00:00:00", timezone=None, filter={"column": "zone", "equals": "SP15"}),
                         24, Quarantine(path))
    assert chosen[PRICE].tolist() == [30.0 + i for i in range(24)]


@pytest.mark.parametrize("bad", ["NaN", "n/a", "inf", "-inf", ""])
def test_a_bad_price_inside_the_horizon_fails_naming_its_row_and_writes_the_quarantine(tmp_path, bad):
    stamps = pd.date_range("2021-07-01", periods=48, freq="h")
    prices = [str(40 + i) for i in range(48)]
    prices[5] = bad  # 05:00, file row 7
    path = tmp_path / "p.csv"
    path.write_text("date,price\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},{p}\n" for t, p in zip(stamps, prices)))
    cfg = make_cfg(tmp_path, ["data/prices=caiso", f"data.prices.path={path}", "optimize.horizon_hours=3",
                              "data.prices.start='2021-07-01 03:00:00'"])
    with pytest.raises(DataValidationError, match=r"no price for 1 of the 3 hours from 2021-07-01 03:00:00 .*"
                                                  r"1 row\(s\) of those hours quarantined: row 7 \(not_a_number: price is not a finite") as err:
        prepare(cfg, tmp_path / "out", tmp_path / "reports")
    assert "DST" not in str(err.value)  # the real cause is named, no guess beside it
    quarantined = pd.read_csv(tmp_path / "reports" / QUARANTINE_FILE)
    assert quarantined["source_row"].tolist() == [7] and quarantined["reason"].tolist() == ["not_a_number"]


def test_a_bad_price_outside_the_horizon_is_only_counted(tmp_path):
    stamps = pd.date_range("2021-07-01", periods=30, freq="h")
    path = tmp_path / "p.csv"
    path.write_text("date,price\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},{'x' if i == 28 else 40}\n"
                                             for i, t in enumerate(stamps)))
    cfg = make_cfg(tmp_path, ["data/prices=caiso", f"data.prices.path={path}"])
    metrics = prepare(cfg, tmp_path / "out", tmp_path / "reports")
    assert metrics["quarantined_by_reason"] == {"not_a_number": 1}
    assert metrics["rows_read"] == 30 == metrics["rows_accepted"] + metrics["quarantined_rows"]


def test_spring_forward_day_has_23_hours_and_the_horizon_counts_elapsed_hours(tmp_path):
    path, hours = local_day_file(tmp_path, "2021-03-14")
    assert (hours.normalize() == pd.Timestamp("2021-03-14", tz=LA)).sum() == 23  # the file's first day
    prices = load_prices(csv_cfg(path, "2021-03-14 00:00:00"), 24, Quarantine(path))
    assert len(prices) == 24
    assert prices[TIMESTAMP].iloc[-1] == pd.Timestamp("2021-03-15 00:00", tz=LA)  # 24 elapsed hours
    assert "2021-03-14 02:00" not in prices[TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert prices[PRICE].tolist() == list(range(24))


def test_without_a_time_zone_the_missing_hour_points_to_the_setting(tmp_path):
    path, _ = local_day_file(tmp_path, "2021-03-14")
    with pytest.raises(DataValidationError, match=r"first missing: 2021-03-14 02:00:00.*set data\.prices\.timezone"):
        load_prices(csv_cfg(path, "2021-03-14 00:00:00", timezone=None), 24)


def test_fall_back_day_has_25_hours_with_the_repeated_hour_twice(tmp_path):
    path, hours = local_day_file(tmp_path, "2021-11-07")
    q = Quarantine(path)
    prices = load_prices(csv_cfg(path, "2021-11-07 00:00:00"), 24, q)
    assert q.total == 0
    walls = prices[TIMESTAMP].dt.strftime("%H:%M%z").tolist()
    assert walls[:4] == ["00:00-0700", "01:00-0700", "01:00-0800", "02:00-0800"]
    assert prices[TIMESTAMP].iloc[-1] == pd.Timestamp("2021-11-07 22:00", tz=LA)  # 24 hours end before 23:00
    assert prices[PRICE].tolist() == list(range(24))


def test_dst_prices_file_reaches_the_optimiser_hourly_with_local_hours(tmp_path):
    path, _ = local_day_file(tmp_path, "2021-11-07")
    cfg = make_cfg(tmp_path, ["data/prices=csv", f"data.prices.path={path}", "data.prices.timestamp_column=ts",
                              f"data.prices.timezone={LA}", "data.prices.start='2021-11-07 00:00:00'",
                              "optimize.horizon_hours=24"])
    metrics = prepare(cfg, tmp_path / "out", tmp_path / "reports")
    assert metrics["timezone"] == LA and metrics["hours"] == 24
    table = read_prices(tmp_path / "out" / PRICES_FILE, 24)  # the optimiser's reader: hourly or an error
    assert (table[TIMESTAMP].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert table[TIMESTAMP].dt.hour.tolist()[:4] == [0, 1, 1, 2]  # local hours for the outside temperature


@pytest.mark.parametrize("zone, first_hour", [(None, 7), (LA, 0)])
def test_timestamps_with_utc_offsets_load(tmp_path, zone, first_hour):
    utc = pd.date_range("2021-11-07 07:00", periods=30, freq="h", tz="UTC")
    local = utc.tz_convert(LA)  # offsets -07:00 then -08:00: "Mixed timezones" for a plain parser
    path = tmp_path / "offsets.csv"
    path.write_text("date,price\n" + "".join(f"{t.isoformat()},{i}\n" for i, t in enumerate(local)))
    table = read_price_file(path, "date", "price", timezone=zone)
    assert len(table) == 30 and table[TIMESTAMP].iloc[0].hour == first_hour
    start = "2021-11-07 07:00:00" if zone is None else "2021-11-07 00:00:00"
    cfg = OmegaConf.create({"source": "caiso", "path": str(path), "start": start, "timezone": zone})
    assert load_prices(cfg, 24)[PRICE].tolist() == [float(i) for i in range(24)]


def test_a_start_that_the_clock_skips_is_a_config_error(tmp_path):
    path, _ = local_day_file(tmp_path, "2021-03-14")
    with pytest.raises(ValueError, match=r"data\.prices\.start = '2021-03-14 02:00:00' does not exist in "
                                         r"America/Los_Angeles"):
        load_prices(csv_cfg(path, "2021-03-14 02:00:00"), 3)


def test_a_negative_unit_factor_is_refused_when_the_config_loads(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.prices\.to_usd_per_mwh = -1000(\.0)?: allowed a number > 0"):
        make_cfg(tmp_path, ["data/prices=csv", "data.prices.path=/x.csv", "data.prices.to_usd_per_mwh=-1000"])
