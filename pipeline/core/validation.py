"""Validation at the boundary: a clear error naming file, row and column, or a quarantine.

Rows of outside files that fail a check either stop the stage (`DataValidationError`) or are
moved to a quarantine CSV with the reason and counted in the stage's metrics (`Quarantine`).
Row numbers are 1-based data rows as a spreadsheet shows them, with the header as row 1.
"""
from __future__ import annotations

import reprlib
from collections import Counter
from pathlib import Path

import pandas as pd

from pipeline.core.io import write_csv


class DataValidationError(ValueError):
    """An input problem that stops the stage; names file, row and column."""

    def __init__(self, file: str | Path, message: str, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column = str(file), row, column
        where = [self.file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")


_SHOWN = reprlib.Repr()  # a few levels, items and characters of a value
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 3, 6, 6, 60, 60


def shown(value: object) -> str:
    """An outside value in a message, cut short: a value from a file, a request or a server can be
    huge, or shared many times over (YAML aliases), and a message must stay one short line."""
    return _SHOWN.repr(value)


def file_row(index: int) -> int:
    """The 1-based line number in a CSV with one header line for a 0-based data index."""
    return int(index) + 2


class Quarantine:
    """Collects rejected rows with their reasons; writes them to one CSV and counts them.

    A reason is a stable code with its sentence (pipeline/contracts/quarantine.py: anything with
    `.code` and `.sentence(column, detail)`); the file holds both, the metrics count codes."""

    def __init__(self, source: str | Path):
        self.source = str(source)
        self._frames: list[pd.DataFrame] = []
        self.counts: Counter[str] = Counter()

    def add(self, rows: pd.DataFrame, reason, column: str | None = None, detail: str = "") -> None:
        if rows.empty:
            return
        frame = rows.copy()
        frame.insert(0, "source_row", [file_row(i) for i in rows.index])
        frame.insert(1, "column", column or "")
        frame.insert(2, "reason", reason.code)
        frame.insert(3, "reason_text", reason.sentence(column, detail))
        self._frames.append(frame)
        self.counts[reason.code] += len(rows)

    def split(self, df: pd.DataFrame, bad: pd.Series, reason, column: str | None = None,
              detail: str = "") -> pd.DataFrame:
        """Quarantine the rows where `bad` is true and return the others."""
        bad = bad.fillna(True).astype(bool)
        self.add(df[bad], reason, column, detail)
        return df[~bad]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def rows(self) -> pd.DataFrame:
        """Every quarantined row so far (source_row, column, reason, reason_text, the row's values)."""
        if not self._frames:
            return pd.DataFrame(columns=["source_row", "column", "reason", "reason_text"])
        return pd.concat(self._frames, ignore_index=True).sort_values("source_row", kind="stable")

    def metrics(self, rows_read: int | None = None, rows_accepted: int | None = None) -> dict:
        """Counts by reason code; with `rows_read` and `rows_accepted`, also the balance
        accepted + quarantined = read, checked (a row lost on the way is a bug, never silent)."""
        out = {"quarantined_rows": self.total, "quarantined_by_reason": dict(sorted(self.counts.items()))}
        if rows_read is not None and rows_accepted is not None:
            if rows_accepted + self.total != rows_read:
                raise RuntimeError(f"{self.source}: {rows_read} rows read but {rows_accepted} accepted + "
                                     f"{self.total} quarantined: rows went missing without a reason")
            out |= {"rows_read": int(rows_read), "rows_accepted": int(rows_accepted)}
        return out

    def write(self, path: str | Path) -> Path:
        """Write the quarantined rows (an empty file with a header when there are none), atomically,
        cells that would start a spreadsheet formula neutralised (pipeline/core/io.write_csv)."""
        out = self.rows()
        out.insert(0, "source_file", self.source)
        return write_csv(out, path)


def read_text_csv(file: str | Path, separator: str) -> pd.DataFrame:
    """A CSV file as text cells (empty cells NaN), data rows numbered from 0 (file_row gives the
    line); every way it can fail to be a table is one DataValidationError naming the file: not
    UTF-8, not parseable with `separator`, empty, or rows with more fields than the header (pandas
    would silently take the extra leading fields as an index)."""
    try:
        df = pd.read_csv(file, sep=separator, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise DataValidationError(file, f"not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8 "
                                        "CSV") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataValidationError(file, f"not a readable CSV with separator {separator!r} ({first})") from None
    if not isinstance(df.index, pd.RangeIndex):
        raise DataValidationError(file, f"its rows have more fields than its header names ({len(df.columns)}: "
                                        f"{list(df.columns)[:10]}): a wrong separator, or a value holding an "
                                        f"unquoted {separator!r}?")
    return df


def require_columns(df: pd.DataFrame, required: list[str], file: str | Path) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataValidationError(file, f"missing column(s) {missing}; found {list(df.columns)}")


def coerce_numeric(df: pd.DataFrame, column: str, file: str | Path, quarantine: Quarantine | None = None,
                   reason=None) -> pd.DataFrame:
    """Make `column` numeric; non-numbers, NaN and inf stop the stage or go to quarantine under
    `reason` (a pipeline/contracts/quarantine.py Reason)."""
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() | ~values.abs().lt(float("inf"))
    if bad.any():
        if quarantine is None:
            i = bad.idxmax()
            raise DataValidationError(file, f"not a finite number: {df.at[i, column]!r}", file_row(i), column)
        df = quarantine.split(df, bad, reason, column)
        values = values[~bad]
    df = df.copy()
    df[column] = values.astype(float)
    return df
