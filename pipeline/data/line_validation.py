"""Streaming checks of one line sheet: timestamps, numbers, order, gaps, stuck sensors.

Rows with an unreadable timestamp, a non-finite value, a duplicate or an out-of-order
timestamp go to the quarantine (with the sheet's file, row and column); gaps and stuck
sensors cannot be "fixed" by removing rows, so they are counted and listed in the metrics.
State is carried from chunk to chunk, so a problem across a chunk boundary is still seen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.core.validation import DataValidationError, Quarantine

MAX_LISTED = 20  # gaps listed by time in the metrics; all are counted


@dataclass
class SheetReport:
    rows_in: int = 0
    rows_out: int = 0
    gaps: int = 0
    gap_seconds: float = 0.0
    gap_list: list = field(default_factory=list)
    stuck_runs: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rows_in": self.rows_in, "rows_out": self.rows_out, "gaps": self.gaps,
                "gap_seconds": self.gap_seconds, "first_gaps": self.gap_list,
                "stuck_runs": dict(sorted(self.stuck_runs.items())),
                "stuck_runs_total": int(sum(self.stuck_runs.values()))}


class SheetValidator:
    """Validate consecutive chunks of one sheet; `check(chunk)` returns the clean rows.

    `chunk.index` must be the 0-based data-row number in the source file (so quarantined
    rows and errors name the row a user finds in the file)."""

    def __init__(self, sheet: str, file: str, timestamp: str, columns: list[str], period_s: float,
                 gap_factor: float, stuck_seconds: float, quarantine: Quarantine):
        self.sheet, self.file, self.timestamp, self.columns = sheet, file, timestamp, list(columns)
        self.period_s, self.gap_s, self.stuck_s = float(period_s), float(gap_factor) * float(period_s), float(stuck_seconds)
        self.quarantine = quarantine
        self.report = SheetReport()
        self.last: pd.Timestamp | None = None
        self._prev_gap_end = None
        self.run_value = {c: None for c in self.columns}
        self.run_start: dict = {c: None for c in self.columns}
        self.run_counted = {c: False for c in self.columns}

    def check(self, chunk: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in [self.timestamp, *self.columns] if c not in chunk.columns]
        if missing:
            raise DataValidationError(self.file, f"sheet '{self.sheet}' lacks column(s) {missing}; found {list(chunk.columns)}",
                                      column=missing[0])
        self.report.rows_in += len(chunk)
        df = chunk[[self.timestamp, *self.columns]].copy()
        ts = pd.to_datetime(df[self.timestamp], errors="coerce")
        df[self.timestamp] = ts
        df = self._split(df, ts.isna(), f"{self.timestamp} not a timestamp", self.timestamp)
        for col in self.columns:
            values = pd.to_numeric(df[col], errors="coerce")
            df[col] = values
            df = self._split(df, ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)), f"{col} not a finite number", col)
        df = self._order(df)
        self._gaps(df[self.timestamp])
        self._stuck(df)
        self.report.rows_out += len(df)
        return df

    def _split(self, df: pd.DataFrame, bad, reason: str, column: str) -> pd.DataFrame:
        bad = pd.Series(np.asarray(bad, dtype=bool), index=df.index)
        if bad.any():
            rows = df[bad].copy()
            rows.insert(0, "sheet", self.sheet)
            self.quarantine.add(rows, reason, column)
        return df[~bad]

    def _order(self, df: pd.DataFrame) -> pd.DataFrame:
        ts = df[self.timestamp]
        previous = ts.cummax().shift(1)
        if self.last is not None and len(previous):
            previous.iloc[0] = self.last
            previous = previous.fillna(self.last).clip(lower=self.last)
        dup = (ts == previous).to_numpy()
        back = (ts < previous).to_numpy()
        df = self._split(df, dup, f"duplicate {self.timestamp}", self.timestamp)
        df = self._split(df, back[~dup], f"{self.timestamp} out of order", self.timestamp)
        if len(df):
            self.last = df[self.timestamp].iloc[-1] if self.last is None else max(self.last, df[self.timestamp].iloc[-1])
        return df

    def _gaps(self, ts: pd.Series) -> None:
        if ts.empty:
            return
        values = ts.to_numpy()
        start = self._prev_gap_end
        full = values if start is None else np.concatenate([[start], values])
        dt = np.diff(full).astype("timedelta64[ms]").astype(float) / 1000.0
        big = np.flatnonzero(dt > self.gap_s)
        self.report.gaps += len(big)
        self.report.gap_seconds += float((dt[big] - self.period_s).sum())
        for i in big[: max(0, MAX_LISTED - len(self.report.gap_list))]:
            self.report.gap_list.append({"after": str(pd.Timestamp(full[i])), "seconds": float(dt[i])})
        self._prev_gap_end = values[-1]

    def _stuck(self, df: pd.DataFrame) -> None:
        """Runs of one repeated value lasting >= stuck_seconds, counted once per run."""
        if df.empty:
            return
        ts = df[self.timestamp].to_numpy()
        for col in self.columns:
            v = df[col].to_numpy(dtype=float)
            change = np.empty(len(v), dtype=bool)
            change[0] = self.run_value[col] is None or v[0] != self.run_value[col]
            change[1:] = v[1:] != v[:-1]
            continuing = not change[0]
            starts = np.flatnonzero(change)
            if continuing:
                starts = np.concatenate([[0], starts])
            ends = np.append(starts[1:], len(v)) - 1
            t0 = ts[starts].copy()
            if continuing:
                t0[0] = self.run_start[col]
            seconds = (ts[ends] - t0).astype("timedelta64[ms]").astype(float) / 1000.0 + self.period_s
            long = seconds >= self.stuck_s
            new = int(long.sum())
            if continuing and self.run_counted[col] and long[0]:
                new -= 1
            if new:
                self.report.stuck_runs[col] = self.report.stuck_runs.get(col, 0) + new
            self.run_counted[col] = bool(long[-1]) or (continuing and len(starts) == 1 and self.run_counted[col])
            self.run_start[col] = t0[-1]
            self.run_value[col] = v[-1]


class Resampler:
    """Mean of each column over a regular grid of `period_s`, streamed: the last bin of a
    chunk is held back until the next chunk shows it is complete."""

    def __init__(self, timestamp: str, period_s: float):
        self.timestamp, self.freq = timestamp, f"{int(period_s * 1000)}ms"
        self.done: list[pd.DataFrame] = []
        self.held: pd.DataFrame | None = None

    def add(self, df: pd.DataFrame) -> None:
        if self.held is not None:
            df = pd.concat([self.held, df])
        if df.empty:
            return
        bins = df[self.timestamp].dt.floor(self.freq)
        last = bins.iloc[-1]
        keep = bins == last
        self.held = df[keep]
        if (~keep).any():
            self.done.append(self._mean(df[~keep], bins[~keep]))

    def _mean(self, df: pd.DataFrame, bins: pd.Series) -> pd.DataFrame:
        return df.drop(columns=self.timestamp).groupby(bins.to_numpy()).mean()

    def result(self) -> pd.DataFrame:
        if self.held is not None and not self.held.empty:
            self.done.append(self._mean(self.held, self.held[self.timestamp].dt.floor(self.freq)))
            self.held = None
        if not self.done:
            return pd.DataFrame()
        out = pd.concat(self.done)
        return out.groupby(level=0).mean()  # bins split across out-of-order rows merge here
