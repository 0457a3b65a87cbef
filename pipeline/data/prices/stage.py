"""Hourly electricity prices for the schedule: a default profile, a CAISO/Energy Online
export (`date,price`), or any CSV by column mapping.

Output: data/prices/prices.csv in the columns of pipeline/contracts/prices.py, exactly
`optimize.horizon_hours` rows from `data.prices.start`.
Negative prices are real (CAISO has them) and kept; they are counted in the metrics.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.prices import PRICE, PRICES_FILE, TIMESTAMP, read_price_file
from pipeline.core.validation import DataValidationError, Quarantine


def profile_prices(profile: list[float], start: str, hours: int) -> pd.DataFrame:
    """The 24-hour profile (hour 0 first) repeated over `hours` from `start`."""
    values = np.asarray(profile, dtype=float)
    if values.shape != (24,) or not np.all(np.isfinite(values)):
        raise ValueError(f"data.prices.profile_usd_per_mwh: need 24 finite numbers, got {list(profile)}")
    stamps = pd.date_range(pd.Timestamp(start), periods=hours, freq="h")
    return pd.DataFrame({TIMESTAMP: stamps, PRICE: values[stamps.hour]})


def window(prices: pd.DataFrame, start: str, hours: int, file: Path) -> pd.DataFrame:
    """The `hours` hourly prices from `start`; an error naming the first missing hour."""
    wanted = pd.date_range(pd.Timestamp(start), periods=hours, freq="h")
    indexed = prices.set_index(TIMESTAMP)[PRICE]
    missing = wanted.difference(indexed.index)
    if len(missing):
        raise DataValidationError(file, f"no price for {len(missing)} of the {hours} hours from {start} "
                                        f"(first missing: {missing[0]}); check data.prices.start", column=TIMESTAMP)
    return pd.DataFrame({TIMESTAMP: wanted, PRICE: indexed.loc[wanted].to_numpy()})


def load_prices(pcfg: DictConfig, hours: int, quarantine: Quarantine | None = None) -> pd.DataFrame:
    """Prices for the schedule from the `data.prices` config group."""
    if hours < 1:
        raise ValueError(f"optimize.horizon_hours must be >= 1, got {hours}")
    if pcfg.source == "profile":
        return profile_prices(list(pcfg.profile_usd_per_mwh), pcfg.start, hours)
    file = Path(pcfg.path)
    if pcfg.source == "caiso":
        table = read_price_file(file, "date", "price", quarantine=quarantine)
    elif pcfg.source == "csv":
        row_filter = OmegaConf.to_container(pcfg.filter) if pcfg.filter else None
        table = read_price_file(file, pcfg.timestamp_column, pcfg.price_column, pcfg.separator,
                                pcfg.timezone, row_filter, float(pcfg.to_usd_per_mwh), quarantine)
    else:
        raise ValueError(f"data.prices.source must be profile, caiso or csv, got {pcfg.source!r}")
    return window(table, pcfg.start, hours, file)


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Stage body of `python -m pipeline.data prices`."""
    pcfg = cfg.data.prices
    quarantine = Quarantine(pcfg.path or "profile")
    prices = load_prices(pcfg, int(cfg.optimize.horizon_hours), quarantine)
    out_dir.mkdir(parents=True, exist_ok=True)
    prices.to_csv(out_dir / PRICES_FILE, index=False)
    quarantine.write(reports_dir / "prices_quarantine.csv")
    p = prices[PRICE]
    return {"source": str(pcfg.source), "hours": len(prices), "price_min": float(p.min()),
            "price_mean": float(p.mean()), "price_max": float(p.max()),
            "negative_price_hours": int((p < 0).sum()), **quarantine.metrics()}
