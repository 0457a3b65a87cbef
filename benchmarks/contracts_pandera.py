"""Should the tabular contracts use pandera? The hand-written boundary checks against a pandera
DataFrameSchema (lazy validation, failure cases turned into quarantine rows) on the same rows:
the fault log loader on generated data (conf/data/fault, with 2 % of the cells spoiled) and the
price reader on the real CAISO export (../shared/data, skipped when absent). Same quarantined
rows and reasons are required before a time counts. Writes reports/bench/contracts_pandera.json.

    pip install pandera==0.35.0   # not a dependency of the project
    python benchmarks/contracts_pandera.py
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


def pandera_fault(path: Path, fault_cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The loader's row checks as one lazily validated DataFrameSchema; per row the first failing
    check (in column order, as the hand-written loader rejects) becomes its quarantine reason."""
    import pandera.pandas as pa

    raw = pd.read_csv(path, sep=fault_cfg.separator, dtype=str, keep_default_na=False)
    df = pd.DataFrame({TIMESTAMP: pd.to_datetime(raw[TIMESTAMP].str.strip(), format="ISO8601", errors="coerce",
                                                 utc=True).dt.tz_localize(None)}, index=raw.index)
    reasons, order = {TIMESTAMP: "timestamp not a date"}, [TIMESTAMP]
    columns = {TIMESTAMP: pa.Column("datetime64[ns]", nullable=False)}
    for name in FEATURES:
        df[name] = pd.to_numeric(raw[name].str.strip(), errors="coerce") * float(fault_cfg.unit_factors[name])
        low, high = (float(v) for v in fault_cfg.valid_ranges[name])
        checks = [pa.Check(lambda s: np.isfinite(s), name=f"{name}:finite"),
                  pa.Check.in_range(low, high, name=f"{name}:range")]
        reasons[f"{name}:finite"] = f"{name} not a finite number"
        reasons[f"{name}:range"] = f"{name} outside [{low:g}, {high:g}]"
        order += [f"{name}:finite", f"{name}:range"]
        if name == "maintenance_cycles":
            checks.append(pa.Check(lambda s: s == np.round(s), name="whole"))
            reasons["whole"] = "maintenance_cycles not a whole number"
            order.append("whole")
        columns[name] = pa.Column(float, checks, nullable=False)
    labels = {str(k).strip().lower(): int(v) for k, v in fault_cfg.fault_labels.items()}
    df[LABEL] = raw[LABEL].str.strip().str.lower()
    columns[LABEL] = pa.Column(str, pa.Check.isin(list(labels), name="label"))
    reasons["label"], order = f"fault label not one of {sorted(labels)}", order + ["label"]
    try:
        pa.DataFrameSchema(columns).validate(df, lazy=True)
        failures = pd.DataFrame(columns=["index", "reason"])
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        key = [_reason_key(col, str(check)) for col, check in zip(cases["column"], cases["check"])]
        cases = cases.assign(key=key, rank=[order.index(k) for k in key]).sort_values(["index", "rank"])
        first = cases.drop_duplicates("index")
        failures = pd.DataFrame({"index": first["index"].astype(int), "reason": first["key"].map(reasons)})
    return df.drop(index=failures["index"]), failures


def _reason_key(column: str, check: str) -> str:
    """pandera names its built-in checks itself (`in_range(0, 10)`, `isin([...])`, `not_nullable`)."""
    if column == TIMESTAMP:
        return TIMESTAMP
    if column == LABEL:
        return "label"
    if check.startswith("in_range"):
        return f"{column}:range"
    return "whole" if check == "whole" else f"{column}:finite"


def hand_written_fault(path: Path, fault_cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    quarantine = Quarantine(path)
    log, _ = loader.load(fault_cfg, quarantine)
    rows = pd.concat(quarantine._frames) if quarantine._frames else pd.DataFrame(columns=["source_row", "reason"])
    return log, pd.DataFrame({"index": rows["source_row"] - 2, "reason": rows["reason"]})


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
        hand_s, (hand_log, hand_bad) = timed(lambda: hand_written_fault(path, fault_cfg), args.repeats)
        pa_s, (pa_log, pa_bad) = timed(lambda: pandera_fault(path, fault_cfg), args.repeats)
        same = (sorted(zip(hand_bad["index"], hand_bad["reason"])) == sorted(zip(pa_bad["index"], pa_bad["reason"])))
        results["fault_log_generated"] = {"rows": args.rows, "quarantined": len(hand_bad), "same_quarantine": same,
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
