"""Small, atomic writers for the files DVC tracks as metrics and plots, and for CSV files that
carry text from outside (quarantine files, echoed logs) safely into a spreadsheet."""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; null is honest about it
    return value


def write_json(path: str | Path, data: dict) -> Path:
    """Write `data` as pretty JSON, atomically (a killed stage never leaves half a metrics file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(_clean(data), fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; metrics are for everyone who reads the repo
    os.replace(tmp, path)
    return path


def ensure_dir(path: str | Path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# A spreadsheet runs a cell that starts with one of these as a formula (`=cmd|' /C calc'!A0`): CSV
# (formula) injection. OWASP's defence: prefix such a cell with a single quote, which the
# spreadsheet shows as text and never runs. A plain number (-5, +1.5e3) is no formula and stays.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(text: str) -> str:
    """`text` as a spreadsheet shows it without running it: a leading ' where it would start a formula."""
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell and column name that would start a formula neutralised
    (neutralise_cell). Only text is touched: numeric columns keep their numbers (-5 stays -5,
    written as a number), and a text cell that is a plain number ("-5", "+1.5e3") stays as it is."""
    out = frame.rename(columns=lambda c: neutralise_cell(c) if isinstance(c, str) else c)
    for i, column in enumerate(out.columns):
        values = out.iloc[:, i]
        if values.dtype == object:  # mixed: only its str cells are text
            text = values.map(lambda v: isinstance(v, str), na_action="ignore").fillna(False).astype(bool)
            risky = text & values.where(text, "").astype(str).str.startswith(FORMULA_START)
        elif pd.api.types.is_string_dtype(values):
            risky = values.str.startswith(FORMULA_START, na=False)
        else:
            continue  # numbers, times, booleans: written as such
        if risky.any():
            out[column] = values.where(~risky, values[risky].map(neutralise_cell))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` (no index) atomically, with text from outside neutralised for spreadsheets
    (spreadsheet_safe): the one writer of every CSV that echoes outside input."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    spreadsheet_safe(frame).to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path
