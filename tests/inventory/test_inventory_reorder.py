"""The reorder recommendation's arithmetic."""
import numpy as np
import pytest
from scipy.stats import norm

from pipeline.inventory.features import build_series
from pipeline.inventory.reorder import reorder_table
from tests.inventory.test_inventory_models import toy_daily


@pytest.fixture
def data():
    d = toy_daily(days=60)
    d["stock"] = np.where(d["chemical"] == "A", 50.0, -5.0)
    return build_series(d, {"train": 0.7, "val": 0.1})


def test_reorder_point_is_lead_time_use_plus_safety_stock(data):
    forecast = np.full((2, 14), 10.0)
    selection = {"selected": {"A": "lstm", "B": "seasonal_naive"},
                 "error_sd_per_day": {"A|Lab_1": 2.0, "B|Lab_1": 0.0}}
    table, daily = reorder_table(data, forecast, selection, days=14, lead_time=7, service_level=0.95)
    a = table.set_index("chemical").loc["A"]
    safety = norm.ppf(0.95) * 2.0 * np.sqrt(7)
    assert a["safety_stock"] == pytest.approx(safety)
    assert a["reorder_point"] == pytest.approx(70 + safety)
    assert a["days_of_supply"] == pytest.approx(5.0)
    assert bool(a["reorder_now"])  # 50 <= 70 + 7.3
    assert a["order_quantity"] == pytest.approx(70 + safety + 140 - 50)
    b = table.set_index("chemical").loc["B"]
    assert bool(b["reorder_now"]) and "negative" in b["note"] and b["days_of_supply"] == 0
    assert len(daily) == 2 * 14 and daily["date"].iloc[0] == str((data.dates[-1] + np.timedelta64(1, "D")).date())


def test_plenty_of_stock_means_no_order(data):
    data.stock = np.full_like(data.stock, 10_000.0)
    table, _ = reorder_table(data, np.full((2, 14), 10.0), {"selected": {"A": "lstm", "B": "lstm"},
                             "error_sd_per_day": {"A|Lab_1": 1.0, "B|Lab_1": 1.0}}, 14, 7, 0.95)
    assert not table["reorder_now"].any() and (table["order_quantity"] == 0).all()


def test_days_beyond_the_horizon_are_refused(data):
    with pytest.raises(ValueError, match="horizon"):
        reorder_table(data, np.ones((2, 14)), {}, days=15, lead_time=7, service_level=0.95)
    with pytest.raises(ValueError, match="service_level"):
        reorder_table(data, np.ones((2, 14)), {}, days=7, lead_time=7, service_level=1.0)
