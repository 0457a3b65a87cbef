"""Impossible instances are named before any solver call; price files are validated."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.settings.schema import ConfigError
from pipeline.core.validation import DataValidationError
from pipeline.optimize.instance import InfeasibleInstanceError, build_instance, read_prices
from tests.optimize.conftest import write_prices


def _prices(hours):
    return pd.DataFrame({"timestamp": pd.date_range("2021-07-01", periods=hours, freq="h"),
                         "price_usd_per_mwh": [40.0] * hours})


def test_demand_above_capacity_is_named(opt_cfg):
    cfg = opt_cfg(["optimize.production.demand_per_day=2000"])
    with pytest.raises(InfeasibleInstanceError, match="demand above capacity"):
        build_instance(cfg, _prices(3))


def test_required_maintenance_impossible_is_named(opt_cfg):
    cfg = opt_cfg(["optimize.maintenance.required_per_day=4"])  # 4 maintenances in a 3-hour day
    with pytest.raises(InfeasibleInstanceError, match="required maintenance impossible"):
        build_instance(cfg, _prices(3))
    # more required than allowed is a config error, caught when the config loads
    with pytest.raises(ConfigError, match="optimize.maintenance.required_per_day = 7: allowed a whole number from 0 "
                                          "to 24|optimize.maintenance.required_per_day = 7: allowed at most "
                                          "optimize.maintenance.max_per_day = 6"):
        opt_cfg(["optimize.maintenance.required_per_day=7", "optimize.horizon_hours=24"])


def test_short_or_bad_price_file_names_file_row_column(tmp_path: Path):
    path = write_prices(tmp_path / "prices.csv", [40.0, 41.0])
    with pytest.raises(DataValidationError, match="horizon needs 3"):
        read_prices(path, 3)
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,price_usd_per_mwh\n2021-07-01 00:00:00,40\n2021-07-01 01:00:00,abc\n")
    with pytest.raises(DataValidationError, match=r"row 3.*price_usd_per_mwh"):
        read_prices(bad, 2)
