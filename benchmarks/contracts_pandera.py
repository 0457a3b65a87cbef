"""Hand-written boundary checks against pandera schemas (lazy validation, failure cases turned
into quarantine rows) on the same rows, with the same quarantined rows and reasons:
- the fault log loader (pipeline/data/fault/loader.py, pandera since this measurement) against
  the sequential hand-written checks it replaced, on generated data (conf/data/fault, 2 % of the
  cells spoiled);
- the price reader (pipeline/contracts/prices.py, hand-written) against a pandera schema on the
  real CAISO export (../shared/data; skipped when absent).
Writes reports/bench/contracts_pandera.json: `python benchmarks/contracts_pandera.py`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.fault_log import FEATURES, LABEL, LOG_COLUMNS, TIMESTAMP
from pipeline.contracts.prices import PRICE, read_price_file
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.core.validation import Quarantine
from pipeline.data.fault import generator, loader

ROOT = repo_root()


def spoiled_log(cfg, n: int, share: float, seed: int = 0) -> pd.DataFrame:
    log, _ = generator.generate(OmegaConf.merge(cfg.data.fault, {"n_rows": n}), 42)
    raw = log.astype(str)
    rng = np.random.default_rng(seed)
    for col, bad in [("pressure_kN", "n/a"), ("temperature_C", "999"), ("maintenance_cycles", "1.5"),
                     (LABEL, "maybe"), (TIMESTAMP, "yesterday"), ("humidity_pct", "inf")]:
        rows = rng.choice(n, int(n * share / 6), replace=False)
        raw.loc[rows, col] = bad
    return raw


def hand_written_load(fault_cfg, quarantine: Quarantine) -> pd.DataFrame:
    """The loader's row checks as they were written by hand before pandera (one rejection, and
    one copy of the frame, per check in turn); kept here as the reference the schema is measured
    against."""
    path = Path(str(fault_cfg.path))
    raw = loader._read(path, fault_cfg)
    df = loader._mapped(raw, fault_cfg, path)
    theirs = {ours: str(fault_cfg.columns[ours]) for ours in LOG_COLUMNS}
    raw = raw.rename(columns={v: k for k, v in theirs.items()})[LOG_COLUMNS]
    reject = loader._Rejector(path, str(fault_cfg.on_bad_row), quarantine, theirs)
    stamps = loader._parse_timestamps(df[TIMESTAMP].astype(str), fault_cfg.timestamp_format)
    df = reject(df, stamps.isna(), "timestamp not a date", TIMESTAMP, raw)
    df[TIMESTAMP] = stamps[df.index]
    for name in FEATURES:
        values = pd.to_numeric(df[name].str.strip(), errors="coerce") * float(fault_cfg.unit_factors[name])
        df = reject(df, ~np.isfinite(values[df.index]), f"{name} not a finite number", name, raw)
        df[name] = values[df.index]
        low, high = (float(v) for v in fault_cfg.valid_ranges[name])
        df = reject(df, (df[name] < low) | (df[name] > high), f"{name} outside [{low:g}, {high:g}]", name, raw)
    whole = df["maintenance_cycles"] == np.round(df["maintenance_cycles"])
    df = reject(df, ~whole, "maintenance_cycles not a whole number", "maintenance_cycles", raw)
    labels = {str(k).strip().lower(): int(v) for k, v in fault_cfg.fault_labels.items()}
    mapped = df[LABEL].str.strip().str.lower().map(labels)
    df = reject(df, mapped.isna(), f"fault label not one of {sorted(labels)}", LABEL, raw)
    df[LABEL] = mapped[df.index]
    df, _ = loader._check_order(df, path, str(fault_cfg.unordered), theirs[TIMESTAMP])
    return reject(df, df[TIMESTAMP].duplicated(keep="first"), "duplicate timestamp", TIMESTAMP, raw)


def quarantined(fn, fault_cfg) -> list[tuple[int, str, str]]:
    quarantine = Quarantine(fault_cfg.path)
    fn(fault_cfg, quarantine)
    rows = pd.concat(quarantine._frames) if quarantine._frames else pd.DataFrame(columns=["source_row"])
    return sorted(zip(rows["source_row"], rows["column"], rows["reason"]))


def pandera_prices(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    df = pd.DataFrame({TIMESTAMP: pd.to_datetime(raw["date"], errors="coerce", format="mixed"),
                       PRICE: pd.to_numeric(raw["price"], errors="coerce")})
    schema = pa.DataFrameSchema({TIMESTAMP: pa.Column("datetime64[ns]", unique=True, nullable=False,
                                                      checks=pa.Check(lambda s: s.is_monotonic_increasing,
                                                                      name="ordered")),
                                 PRICE: pa.Column(float, pa.Check(lambda s: np.isfinite(s)), nullable=False)})
    return schema.validate(df, lazy=True)


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="generated fault-log rows (conf default: 20,000)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench" / "contracts_pandera.json"))
    args = parser.parse_args()
    cfg = load_params(ROOT / "params.yaml")
    results: dict = {"load_average_1min": os.getloadavg()[0], "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        spoiled_log(cfg, args.rows, 0.02).to_csv(path, index=False)
        fault_cfg = OmegaConf.merge(OmegaConf.load(ROOT / "conf" / "data" / "fault" / "file.yaml"), {"path": str(path)})
        loader.load(fault_cfg, Quarantine(path))  # pandera's import (~1 s) is paid once per stage, not here
        hand_s, hand_bad = timed(lambda: quarantined(hand_written_load, fault_cfg), args.repeats)
        pa_s, pa_bad = timed(lambda: quarantined(loader.load, fault_cfg), args.repeats)
        results["fault_log_generated"] = {"rows": args.rows, "quarantined": len(hand_bad),
                                          "same_quarantine": hand_bad == pa_bad,
                                          "hand_written_s": hand_s, "pandera_s": pa_s, "ratio": pa_s / hand_s}
    prices = ROOT.parent / "shared" / "data" / "prices" / "CAISO_avg_price_hourly_2021.csv"
    if prices.exists():
        hand_s, table = timed(lambda: read_price_file(prices, "date", "price"), args.repeats)
        pa_s, checked = timed(lambda: pandera_prices(prices), args.repeats)
        results["prices_real"] = {"rows": len(table), "same_values": bool(np.array_equal(table[PRICE], checked[PRICE])),
                                  "hand_written_s": hand_s, "pandera_s": pa_s, "ratio": pa_s / hand_s}
    write_json(args.out, results)
    print(results)


if __name__ == "__main__":
    main()
