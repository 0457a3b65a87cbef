"""Readers of real line files, chunk by chunk: a workbook in the MSOM 2024 layout (one sheet
per unit, sheet and column names by config) and any CSV by column mapping (for example the
`;`-separated 10-second tablet-press series of Zagar & Mihelic 2022).

Each reader yields `(sheet, chunk)` where chunk.index is the 0-based data-row number in
that sheet, so validation errors and quarantined rows name the row a user can find.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from pipeline.core.validation import DataValidationError


@dataclass
class SheetSpec:
    name: str                 # sheet name in the workbook (or a label for a CSV)
    timestamp: str            # source column holding the time
    period_s: float           # expected sampling period
    rename: dict[str, str]    # source column -> channel name (empty: keep all, unrenamed)
    segments: tuple[str, ...] = ()  # columns naming the production segment (campaign, batch), kept as text


def sheet_specs(layout) -> list[SheetSpec]:
    """The `layout` list of a line config as SheetSpecs, with clear errors on bad entries."""
    specs = []
    for i, entry in enumerate(layout or []):
        for key in ("name", "timestamp", "period_s"):
            if OmegaConf.select(entry, key) is None:
                raise KeyError(f"data.line.layout[{i}] lacks '{key}' (conf/data/line/*.yaml)")
        columns = entry.get("columns")
        if columns is None:
            rename = {}
        elif isinstance(columns, DictConfig):
            rename = {str(k): str(v) for k, v in columns.items()}
        else:
            rename = {str(c): str(c) for c in columns}
        segments = tuple(str(c) for c in (entry.get("segments") or []))
        clash = [c for c in segments if c in rename or c in rename.values()]
        if clash:
            raise KeyError(f"data.line.layout[{i}].segments {clash} are also channels")
        specs.append(SheetSpec(str(entry.name), str(entry.timestamp), float(entry.period_s), rename, segments))
    return specs


def _frame(rows: list, header: list[str], offset: int, spec: SheetSpec, file: Path) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=header, index=pd.RangeIndex(offset, offset + len(rows)))
    return _select(df, spec, file)


def _select(df: pd.DataFrame, spec: SheetSpec, file: Path) -> pd.DataFrame:
    if spec.timestamp not in df.columns:
        raise DataValidationError(file, f"sheet '{spec.name}' has no timestamp column '{spec.timestamp}'; found {list(df.columns)}",
                                  column=spec.timestamp)
    missing = [c for c in [*spec.rename, *spec.segments] if c not in df.columns]
    if missing:
        raise DataValidationError(file, f"sheet '{spec.name}' lacks column(s) {missing}", column=missing[0])
    if not spec.rename:
        return df
    return df[[spec.timestamp, *spec.rename, *spec.segments]].rename(columns=spec.rename)


def iter_workbook(path: Path, specs: list[SheetSpec], chunk_rows: int) -> Iterator[tuple[SheetSpec, pd.DataFrame]]:
    """Stream the configured sheets of an .xlsx workbook (openpyxl read-only mode)."""
    from openpyxl import load_workbook

    if not path.exists():
        raise FileNotFoundError(f"{path}: line workbook not found (data.line.path)")
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for spec in specs:
            if spec.name not in book.sheetnames:
                raise DataValidationError(path, f"no sheet '{spec.name}'; the workbook has {book.sheetnames}")
            rows = book[spec.name].iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                raise DataValidationError(path, f"sheet '{spec.name}' is empty")
            header = [str(h) if h is not None else f"unnamed_{i}" for i, h in enumerate(header)]
            buffer, offset = [], 0
            for row in rows:
                buffer.append(row)
                if len(buffer) == chunk_rows:
                    yield spec, _frame(buffer, header, offset, spec, path)
                    offset, buffer = offset + len(buffer), []
            if buffer:
                yield spec, _frame(buffer, header, offset, spec, path)
    finally:
        book.close()


def iter_csv(path: Path, spec: SheetSpec, sep: str, chunk_rows: int) -> Iterator[tuple[SheetSpec, pd.DataFrame]]:
    """Stream one CSV file as one sheet, with its columns mapped by `spec.rename`."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: line CSV not found (data.line.path)")
    usecols = [spec.timestamp, *spec.rename, *spec.segments] if spec.rename else None
    try:
        reader = pd.read_csv(path, sep=sep, chunksize=chunk_rows, usecols=usecols, dtype=str)
        for chunk in reader:
            yield spec, _select(chunk, spec, path)
    except ValueError as exc:  # pandas names the columns that usecols could not find
        if "Usecols" in str(exc) or "columns expected" in str(exc):
            raise DataValidationError(path, f"{exc}; configured columns {usecols}") from exc
        raise
