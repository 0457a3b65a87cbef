"""Load a real tablet-press log through the column mapping of conf/data/fault/file.yaml.

Validation at the boundary. Stops the stage with an error naming file, row and column:
the file or a mapped column is missing, timestamps go backwards (unless `unordered: sort`),
nothing valid is left. Moves rows to the quarantine (or stops, with `on_bad_row: error`):
a value that is not a finite number, an input outside its plausible range, a maintenance
count that is not a whole number, an unknown fault label, an unparseable or duplicate
timestamp. Row numbers are the file's line numbers (header = line 1).

The row checks are one pandera schema validated lazily (every failure case at once, in one
pass over the columns); each row is quarantined for its first failing check, in schema order.
With `on_bad_row: error` the stage stops at the first failing check's first row. Order and
duplicate timestamps are judged afterwards, on the rows that passed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.fault_log import FEATURES, LABEL, LOG_COLUMNS, TIMESTAMP, typed
from pipeline.core.validation import DataValidationError, Quarantine, file_row


class _Rejector:
    """Quarantine bad rows, or stop at the first one, as the config says."""

    def __init__(self, file: Path, policy: str, quarantine: Quarantine, names: dict[str, str]):
        if policy not in ("quarantine", "error"):
            raise DataValidationError(file, f"data.fault.on_bad_row must be 'quarantine' or 'error', got {policy!r}")
        self.file, self.policy, self.quarantine, self.names = file, policy, quarantine, names

    def __call__(self, df: pd.DataFrame, bad, reason: str, column: str, raw: pd.DataFrame) -> pd.DataFrame:
        bad = pd.Series(bad, index=df.index).fillna(True).astype(bool)
        if not bad.any():
            return df
        if self.policy == "error":
            i = bad.idxmax()
            raise DataValidationError(self.file, f"{reason}: {raw.at[i, column]!r}", file_row(i),
                                     self.names.get(column, column))
        self.quarantine.add(raw.loc[bad[bad].index], reason, column)
        return df[~bad]


def _read(path: Path, fault_cfg: DictConfig) -> pd.DataFrame:
    if not path.exists():
        raise DataValidationError(path, "file not found (set data.fault.path)")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path).astype(str).reset_index(drop=True)
    try:
        return pd.read_csv(path, sep=fault_cfg.separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(path, f"not a readable CSV with separator {fault_cfg.separator!r} ({exc})") from exc


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


def row_schema(fault_cfg: DictConfig, labels: dict[str, int]):
    """The contract's row checks as one pandera schema over the parsed columns, each check named
    by its quarantine reason and listed in the order a row is judged (its first failure counts).
    A DataFrameSchema, not a DataFrameModel: ranges and label spellings come from conf."""
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
    """Every failing (row, column, reason) of the lazily validated `df`, with `rank`: the
    position of the check in the schema (a row's first failure is the one it is quarantined for)."""
    import pandera.pandas as pa

    order = [c.name for column in schema.columns.values() for c in column.checks]
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return pd.DataFrame({"row": cases["index"].astype(int).to_numpy(), "column": cases["column"].to_numpy(),
                             "reason": cases["check"].to_numpy(),
                             "rank": cases["check"].map(order.index).to_numpy()})
    return pd.DataFrame({"row": [], "column": [], "reason": [], "rank": []})


def _parse(raw: pd.DataFrame, fault_cfg: DictConfig, labels: dict[str, int]) -> pd.DataFrame:
    """The mapped string columns as timestamps (NaT where unreadable), numbers in our units (NaN
    where not a number) and stripped lower-case labels."""
    df = pd.DataFrame({TIMESTAMP: _parse_timestamps(raw[TIMESTAMP].astype(str), fault_cfg.timestamp_format)},
                      index=raw.index)
    for name in FEATURES:
        df[name] = pd.to_numeric(raw[name].str.strip(), errors="coerce") * float(fault_cfg.unit_factors[name])
    df[LABEL] = raw[LABEL].str.strip().str.lower()
    return df


def load(fault_cfg: DictConfig, quarantine: Quarantine) -> tuple[pd.DataFrame, dict]:
    """The validated log in the contract's columns, and the loader's counts for the metrics."""
    path = Path(str(fault_cfg.path))
    raw = _read(path, fault_cfg)
    df = _mapped(raw, fault_cfg, path)
    theirs = {ours: str(fault_cfg.columns[ours]) for ours in LOG_COLUMNS}
    raw = raw.rename(columns={v: k for k, v in theirs.items()})[LOG_COLUMNS]  # quarantine rows in our names
    reject = _Rejector(path, str(fault_cfg.on_bad_row), quarantine, theirs)
    labels = {str(k).strip().lower(): int(v) for k, v in fault_cfg.fault_labels.items()}

    df = _parse(df, fault_cfg, labels)
    failures = row_failures(df, row_schema(fault_cfg, labels)).sort_values(["rank", "row"], kind="stable")
    first = failures.drop_duplicates("row")  # a row is judged by its first failing check
    for (_, reason, column), rows in first.groupby(["rank", "reason", "column"], sort=True):
        df = reject(df, df.index.isin(rows["row"]), reason, column, raw)
    df[LABEL] = df[LABEL].map(labels)

    df, reordered = _check_order(df, path, str(fault_cfg.unordered), theirs[TIMESTAMP])
    duplicate = df[TIMESTAMP].duplicated(keep="first")
    df = reject(df, duplicate, "duplicate timestamp", TIMESTAMP, raw)
    if df.empty:
        raise DataValidationError(path, f"no valid rows left ({quarantine.total} quarantined: "
                                        f"{dict(quarantine.counts)})")
    return typed(df), {"rows_read": len(raw), "rows_reordered": reordered}
