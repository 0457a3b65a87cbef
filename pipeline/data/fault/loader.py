"""Load a real tablet-press log through the column mapping of conf/data/fault/file.yaml.

Validation at the boundary. Stops the stage with an error naming file, row and column:
the file or a mapped column is missing, timestamps go backwards (unless `unordered: sort`),
nothing valid is left. Moves rows to the quarantine (or stops, with `on_bad_row: error`):
a value that is not a finite number, an input outside its plausible range, a maintenance
count that is not a whole number, an unknown fault label, an unparseable or duplicate
timestamp. Row numbers are the file's line numbers (header = line 1).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts import quarantine as reasons
from pipeline.contracts.fault_log import FEATURES, LABEL, LOG_COLUMNS, TIMESTAMP, typed
from pipeline.core.validation import DataValidationError, Quarantine, file_row, read_text_csv


class _Rejector:
    """Quarantine bad rows, or stop at the first one, as the config says."""

    def __init__(self, file: Path, policy: str, quarantine: Quarantine, names: dict[str, str]):
        if policy not in ("quarantine", "error"):
            raise DataValidationError(file, f"data.fault.on_bad_row must be 'quarantine' or 'error', got {policy!r}")
        self.file, self.policy, self.quarantine, self.names = file, policy, quarantine, names

    def __call__(self, df: pd.DataFrame, bad: pd.Series, reason: reasons.Reason, column: str, raw: pd.DataFrame,
                 detail: str = "") -> pd.DataFrame:
        bad = bad.fillna(True).astype(bool)
        if not bad.any():
            return df
        if self.policy == "error":
            i = bad.idxmax()
            raise DataValidationError(self.file, f"{reason.code}: {reason.sentence(column, detail)}: "
                                                 f"{raw.at[i, column]!r}", file_row(i), self.names.get(column, column))
        self.quarantine.add(raw.loc[bad[bad].index], reason, column, detail)
        return df[~bad]


def _read(path: Path, fault_cfg: DictConfig) -> pd.DataFrame:
    if not path.exists():
        raise DataValidationError(path, "file not found (set data.fault.path)")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path).astype(str).reset_index(drop=True)
    return read_text_csv(path, fault_cfg.separator).fillna("")


def _mapped(raw: pd.DataFrame, fault_cfg: DictConfig, path: Path) -> pd.DataFrame:
    mapping = {ours: str(fault_cfg.columns[ours]) for ours in LOG_COLUMNS}
    missing = [f"{theirs} (for {ours})" for ours, theirs in mapping.items() if theirs not in raw.columns]
    if missing:
        raise DataValidationError(path, f"missing column(s) {missing}; the file has {list(raw.columns)}; "
                                        "map them in data.fault.columns")
    return pd.DataFrame({ours: raw[theirs] for ours, theirs in mapping.items()}, index=raw.index)


def _parse_timestamps(values: pd.Series, fmt: str | None) -> pd.Series:
    parsed = pd.to_datetime(values.str.strip(), format=fmt or "ISO8601", errors="coerce", utc=True)
    return parsed.dt.tz_localize(None)


def _check_order(df: pd.DataFrame, path: Path, policy: str, column: str) -> tuple[pd.DataFrame, int]:
    backwards = df[TIMESTAMP].diff() < pd.Timedelta(0)
    if not backwards.any():
        return df, 0
    if policy == "sort":
        return df.sort_values(TIMESTAMP, kind="stable"), int(backwards.sum())
    i = backwards.idxmax()
    raise DataValidationError(path, f"timestamp {df.at[i, TIMESTAMP]} is earlier than the row before it "
                                    "(the log must be in time order; or set data.fault.unordered=sort)",
                              file_row(i), column)


def load(fault_cfg: DictConfig, quarantine: Quarantine) -> tuple[pd.DataFrame, dict]:
    """The validated log in the contract's columns, and the loader's counts for the metrics."""
    path = Path(str(fault_cfg.path))
    raw = _read(path, fault_cfg)
    df = _mapped(raw, fault_cfg, path)
    theirs = {ours: str(fault_cfg.columns[ours]) for ours in LOG_COLUMNS}
    raw = raw.rename(columns={v: k for k, v in theirs.items()})[LOG_COLUMNS]  # quarantine rows in our names
    reject = _Rejector(path, str(fault_cfg.on_bad_row), quarantine, theirs)

    stamps = _parse_timestamps(df[TIMESTAMP].astype(str), fault_cfg.timestamp_format)
    df = reject(df, stamps.isna(), reasons.NOT_A_TIMESTAMP, TIMESTAMP, raw)
    df[TIMESTAMP] = stamps[df.index]

    for name in FEATURES:
        values = pd.to_numeric(df[name].str.strip(), errors="coerce") * float(fault_cfg.unit_factors[name])
        df = reject(df, ~np.isfinite(values[df.index]), reasons.NOT_A_NUMBER, name, raw)
        df[name] = values[df.index]
        low, high = (float(v) for v in fault_cfg.valid_ranges[name])
        df = reject(df, (df[name] < low) | (df[name] > high), reasons.OUT_OF_RANGE, name, raw, f"[{low:g}, {high:g}]")
    whole = df["maintenance_cycles"] == np.round(df["maintenance_cycles"])
    df = reject(df, ~whole, reasons.NOT_WHOLE_NUMBER, "maintenance_cycles", raw)

    labels = {str(k).strip().lower(): int(v) for k, v in fault_cfg.fault_labels.items()}
    mapped = df[LABEL].str.strip().str.lower().map(labels)
    df = reject(df, mapped.isna(), reasons.UNKNOWN_LABEL, LABEL, raw, str(sorted(labels)))
    df[LABEL] = mapped[df.index]

    df, reordered = _check_order(df, path, str(fault_cfg.unordered), theirs[TIMESTAMP])
    duplicate = df[TIMESTAMP].duplicated(keep="first")
    df = reject(df, duplicate, reasons.DUPLICATE_TIMESTAMP, TIMESTAMP, raw)
    if df.empty:
        raise DataValidationError(path, f"no valid rows left ({quarantine.total} quarantined: "
                                        f"{dict(quarantine.counts)})")
    return typed(df), {"rows_read": len(raw), "rows_reordered": reordered}
