"""Stage prepare_inventory: the chemical inventory log, generated or loaded, judged by the one
rule set of pipeline/contracts/inventory (rules.py: parsing, units, CAS, plausibility limits,
duplicates; catalogue.py: the chemicals and limits from data.inventory) and turned into daily
usage series per chemical and laboratory (daily.py).

Whole-file problems (missing file or columns, no rows) stop the stage with an error naming the
file; row problems move the row to reports/data/inventory_quarantine.csv with its reason and
are counted in the metrics (first failing check per row).

Outputs under data/inventory/: log.csv (the raw log as generated or read), clean.parquet
(one row per accepted withdrawal/purchase, amounts in g or ml) and daily.parquet (one row per
chemical, location and day: used, purchased, experiments active, stock; zero on idle days).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.inventory import CLEAN_FILE, DAILY_FILE, LOG_FILE
from pipeline.contracts.inventory.catalogue import Catalogue
from pipeline.contracts.inventory.daily import daily_series
from pipeline.contracts.inventory.rules import clean_log, last_day, read_log
from pipeline.core.config import origin_root
from pipeline.core.io import write_csv
from pipeline.core.validation import Quarantine
from pipeline.data.inventory.generator import generate_log


def resolve_path(path: str) -> Path:
    """A configured path, relative to the user's repository root unless absolute."""
    p = Path(path)
    return p if p.is_absolute() else origin_root() / p


def load_raw(icfg: DictConfig, seed: int) -> tuple[pd.DataFrame, str]:
    """The raw log as strings and the name of its source (for the quarantine file)."""
    if icfg.source == "generated":
        log = generate_log(icfg, seed)
        return log.astype(str), "generated"
    if icfg.source == "file":
        if not icfg.get("path"):
            raise ValueError("data.inventory.path: required when data.inventory.source is 'file'")
        file = resolve_path(str(icfg.path))
        return read_log(file), str(file.resolve())
    raise ValueError(f"data.inventory.source must be 'generated' or 'file', got {icfg.source!r}")


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Stage body of `python -m pipeline.data inventory`."""
    icfg = cfg.data.inventory
    raw, source = load_raw(icfg, int(cfg.seed))
    quarantine = Quarantine(source)
    flags: dict = {}
    catalogue = Catalogue.from_config(icfg)
    clean = clean_log(raw, catalogue, quarantine, flags)
    days = int(icfg.days) if icfg.source == "generated" else last_day(raw, catalogue)
    daily = daily_series(clean, icfg.day_one, days)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(raw, out_dir / LOG_FILE)  # the raw log, echoed: cells that would start a formula neutralised
    clean.to_parquet(out_dir / CLEAN_FILE, index=False)
    daily.to_parquet(out_dir / DAILY_FILE, index=False)
    quarantine.write(reports_dir / "inventory_quarantine.csv")
    return summarise(raw, clean, daily, quarantine, source, flags)


def summarise(raw: pd.DataFrame, clean: pd.DataFrame, daily: pd.DataFrame, quarantine: Quarantine,
              source: str, flags: dict | None = None) -> dict:
    last_stock = daily.groupby(["chemical", "location"])["stock"].min()
    cas_per_chem = clean.groupby("chemical")["cas"].nunique()
    return {
        "source": source,
        "raw_rows": len(raw),
        "clean_rows": len(clean),
        "purchase_rows": int(clean["is_purchase"].sum()),
        "consumption_rows": int((~clean["is_purchase"]).sum()),
        "rows_converted_across_kind": int(clean["converted_across_kind"].sum()),
        "rows_cas_unverified": int((~clean["cas_verified"]).sum()),
        "max_cas_numbers_per_chemical": int(cas_per_chem.max()),
        "days": int(daily["day"].max()),
        "chemicals": int(clean["chemical"].nunique()),
        "series": int(len(last_stock)),
        "series_with_negative_stock": int((last_stock < -1e-9).sum()),
        "zero_use_day_share": float((daily["used"] == 0).mean()),
        "flagged_but_kept": dict(sorted((flags or {}).items())),
        **quarantine.metrics(len(raw), len(clean)),
    }
