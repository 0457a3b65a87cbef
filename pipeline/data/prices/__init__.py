"""Stage prepare_prices (`python -m pipeline.data prices`): hourly prices from a profile, a
CAISO export or any CSV, written as pipeline/contracts/prices.py's file."""
from pipeline.core.settings import data_prices, optimize, run, tracking
from pipeline.data.prices.stage import prepare

# The sections this stage reads, checked as it loads them.
SETTINGS = {"paths": run.Paths, "tracking": tracking.Tracking, "data.prices": data_prices.DataPrices,
            "optimize": optimize.Optimize}  # optimize.horizon_hours: how many hours to write

__all__ = ["SETTINGS", "prepare"]
