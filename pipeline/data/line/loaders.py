"""Readers of real line files, chunk by chunk: a workbook in the MSOM 2024 layout (one sheet
per unit, sheet and column names by config) and any CSV by column mapping (for example the
`;`-separated 10-second tablet-press series of Zagar & Mihelic 2022).

Each reader yields `(sheet, chunk)` where chunk.index is the 0-based data-row number in
that sheet, so validation errors and quarantined rows name the row a user can find.
"""
from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
    file: str = ""            # the file it is read from (sheets of one file share a grid; "" generated)


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


def expand_paths(configured, root: Path) -> list[Path]:
    """`data.line.path` as files: one path, a glob pattern or a list of either (relative ones
    against `root`, the repository); each pattern's matches sorted, the order otherwise kept.
    A pattern that matches nothing, or a file named twice, stops with the key and the value."""
    entries = [configured] if isinstance(configured, str) else list(configured or [])
    if not entries:
        raise ValueError("data.line.path is required for a real source: a file, a glob pattern or a list of them")
    files: list[Path] = []
    for entry in entries:
        p = Path(str(entry))
        p = p if p.is_absolute() else root / p
        if glob.has_magic(str(entry)):
            matches = sorted(Path(m) for m in glob.glob(str(p)))
            if not matches:
                raise FileNotFoundError(f"data.line.path: pattern {entry!r} matches no file (looked in {p.parent})")
            files += [m.resolve() for m in matches]
        else:
            files.append(p.resolve())
    twice = sorted({str(f) for f in files if files.count(f) > 1})
    if twice:
        raise ValueError(f"data.line.path names {twice} more than once")
    return files


def per_file(spec: SheetSpec, path: Path, several: bool) -> SheetSpec:
    """The spec of one file of several: its name says which file (validation, quarantine, raw folders)."""
    return replace(spec, name=f"{spec.name} ({path.name})" if several else spec.name, file=str(path))


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
        for spec in (replace(s, file=str(path)) for s in specs):
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
    spec = replace(spec, file=spec.file or str(path))
    usecols = [spec.timestamp, *spec.rename, *spec.segments] if spec.rename else None
    try:
        reader = pd.read_csv(path, sep=sep, chunksize=chunk_rows, usecols=usecols, dtype=str)
        for chunk in reader:
            yield spec, _select(chunk, spec, path)
    except ValueError as exc:  # pandas names the columns that usecols could not find
        if "Usecols" in str(exc) or "columns expected" in str(exc):
            raise DataValidationError(path, f"{exc}; configured columns {usecols}") from exc
        raise
