"""Should the tabular contracts use pandera? The hand-written boundary checks against the same
checks as a pandera schema (lazy validation, failure cases turned into quarantine rows), on the
same rows and with the same quarantined rows and reasons:
- the fault log loader (pipeline/data/fault/loader.py) on generated data (conf/data/fault, 2 %
  of the cells spoiled; --rows);
- the price reader (pipeline/contracts/prices.py) on the real CAISO export (../shared/data;
  skipped when absent);
and the import time pandera adds to a stage. Writes reports/bench/contracts_pandera.json.

    pip install pandera==0.35.0   # not a dependency of the project (see docs/fault.md)
    python benchmarks/contracts_pandera.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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


def row_schema(fault_cfg, labels: dict[str, int]):
    """The loader's row checks as one pandera schema over the parsed columns, each check named by
    its quarantine reason and listed in the order a row is judged (its first failure counts). A
    DataFrameSchema, not a DataFrameModel: the ranges and label spellings are settings."""
    import pandera.pandas as pa

    def check(fn, reason: str):
        return pa.Check(fn, name=reason, ignore_na=False)

    columns = {TIMESTAMP: pa.Column(checks=check(lambda s: s.notna(), "timestamp not a date"), nullable=True)}
    for name in FEATURES:
        low, high = (float(v) for v in fault_cfg.valid_ranges[name])
        columns[name] = pa.Column(float, nullable=True, checks=[
            check(lambda s: np.isfinite(s), f"{name} not a finite number"),
            check(lambda s, low=low, high=high: (s >= low) & (s <= high), f"{name} outside [{low:g}, {high:g}]")])
    columns["maintenance_cycles"].checks.append(
        check(lambda s: s == np.round(s), "maintenance_cycles not a whole number"))
    columns[LABEL] = pa.Column(nullable=True, checks=check(lambda s: s.isin(list(labels)),
                                                           f"fault label not one of {sorted(labels)}"))
    return pa.DataFrameSchema(columns)


def row_failures(df: pd.DataFrame, schema) -> pd.DataFrame:
    """Every failing (row, column, reason) of the lazily validated `df`, with the check's rank."""
    import pandera.pandas as pa

    order = [c.name for column in schema.columns.values() for c in column.checks]
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return pd.DataFrame({"row": cases["index"].astype(int).to_numpy(), "column": cases["column"].to_numpy(),
                             "reason": cases["check"].to_numpy(), "rank": cases["check"].map(order.index).to_numpy()})
    return pd.DataFrame({"row": [], "column": [], "reason": [], "rank": []})


def pandera_load(fault_cfg, quarantine: Quarantine) -> pd.DataFrame:
    """loader.load with its row checks as the pandera schema above: failure cases become the
    quarantine rows (or the first one the error), order and duplicates are judged afterwards."""
    path = Path(str(fault_cfg.path))
    raw = loader._read(path, fault_cfg)
    mapped = loader._mapped(raw, fault_cfg, path)
    theirs = {ours: str(fault_cfg.columns[ours]) for ours in LOG_COLUMNS}
    raw = raw.rename(columns={v: k for k, v in theirs.items()})[LOG_COLUMNS]
    reject = loader._Rejector(path, str(fault_cfg.on_bad_row), quarantine, theirs)
    labels = {str(k).strip().lower(): int(v) for k, v in fault_cfg.fault_labels.items()}
    df = pd.DataFrame({TIMESTAMP: loader._parse_timestamps(mapped[TIMESTAMP].astype(str), fault_cfg.timestamp_format)},
                      index=mapped.index)
    for name in FEATURES:
        df[name] = pd.to_numeric(mapped[name].str.strip(), errors="coerce") * float(fault_cfg.unit_factors[name])
    df[LABEL] = mapped[LABEL].str.strip().str.lower()
    failures = row_failures(df, row_schema(fault_cfg, labels)).sort_values(["rank", "row"], kind="stable")
    for (_, reason, column), rows in failures.drop_duplicates("row").groupby(["rank", "reason", "column"]):
        df = reject(df, pd.Series(df.index.isin(rows["row"]), index=df.index), reason, column, raw)
    df[LABEL] = df[LABEL].map(labels)
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


def import_seconds(modules: str, repeats: int) -> float:
    """Median wall time of a fresh `python -c "import <modules>"`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    try:
        import pandera.pandas  # noqa: F401
    except ImportError:
        raise SystemExit("pandera is not a dependency of the project: pip install pandera==0.35.0 first")
    cfg = load_params(ROOT / "params.yaml")
    results: dict = {"load_average_1min": os.getloadavg()[0], "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        spoiled_log(cfg, args.rows, 0.02).to_csv(path, index=False)
        fault_cfg = OmegaConf.merge(OmegaConf.load(ROOT / "conf" / "data" / "fault" / "file.yaml"), {"path": str(path)})
        for fn in (loader.load, pandera_load):  # warm: first calls pay imports and caches, not the checks
            quarantined(fn, fault_cfg)
        hand_s, hand_bad = timed(lambda: quarantined(loader.load, fault_cfg), args.repeats)
        pa_s, pa_bad = timed(lambda: quarantined(pandera_load, fault_cfg), args.repeats)
        results["fault_log_generated"] = {"rows": args.rows, "quarantined": len(hand_bad),
                                          "same_quarantine": hand_bad == pa_bad,
                                          "hand_written_s": hand_s, "pandera_s": pa_s, "ratio": pa_s / hand_s}
    prices = ROOT.parent / "shared" / "data" / "prices" / "CAISO_avg_price_hourly_2021.csv"
    if prices.exists():
        pandera_prices(prices)
        hand_s, table = timed(lambda: read_price_file(prices, "date", "price"), args.repeats)
        pa_s, checked = timed(lambda: pandera_prices(prices), args.repeats)
        results["prices_real"] = {"rows": len(table), "same_values": bool(np.array_equal(table[PRICE], checked[PRICE])),
                                  "hand_written_s": hand_s, "pandera_s": pa_s, "ratio": pa_s / hand_s}
    results["import_s"] = {"pandas": import_seconds("pandas", 3), "pandas_and_pandera": import_seconds("pandas, pandera.pandas", 3)}
    write_json(args.out, results)
    print(results)


if __name__ == "__main__":
    main()
