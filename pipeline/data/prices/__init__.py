"""Stage prepare_prices (`python -m pipeline.data prices`): hourly prices from a profile, a
CAISO export or any CSV, written as pipeline/contracts/prices.py's file."""
from pipeline.data.prices.stage import prepare

__all__ = ["prepare"]
