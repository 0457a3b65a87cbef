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

from pipeline.contracts import quarantine as reasons
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
        # Per column: the value of the run in progress, when it began (ms), whether it was counted.
        self.run_value: np.ndarray | None = None
        self.run_start = np.zeros(len(self.columns), dtype=np.int64)
        self.run_counted = np.zeros(len(self.columns), dtype=bool)

    def check(self, chunk: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in [self.timestamp, *self.columns] if c not in chunk.columns]
        if missing:
            raise DataValidationError(self.file, f"sheet '{self.sheet}' lacks column(s) {missing}; found {list(chunk.columns)}",
                                      column=missing[0])
        self.report.rows_in += len(chunk)
        df = chunk[[self.timestamp, *self.columns]]
        ts = pd.to_datetime(df[self.timestamp], errors="coerce")
        df = df.assign(**{self.timestamp: ts})
        bad_ts = ts.isna().to_numpy()
        self._quarantine(df, bad_ts, reasons.NOT_A_TIMESTAMP, self.timestamp)
        df = df[~bad_ts] if bad_ts.any() else df
        df, values = self._numbers(df)
        keep = self._order(df)
        if not keep.all():
            df, values = df[keep], values[keep]
        self._gaps(df[self.timestamp])
        self._stuck(df[self.timestamp], values)
        self.report.rows_out += len(df)
        return df

    def _numbers(self, df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Every channel as a number; a row with any non-finite value is quarantined under
        its first such column (in column order), with the values as read."""
        raw = df
        if not all(pd.api.types.is_numeric_dtype(t) for t in df.dtypes.iloc[1:]):
            df = df.assign(**{c: pd.to_numeric(df[c], errors="coerce") for c in self.columns})
        values = df[self.columns].to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values)
        rows = bad.any(axis=1)
        if not rows.any():
            return df, values
        first = bad.argmax(axis=1)
        for k in np.unique(first[rows]):
            col = self.columns[k]
            self._quarantine(raw, rows & (first == k), reasons.NOT_A_NUMBER, col)
        return df[~rows], values[~rows]

    def _quarantine(self, df: pd.DataFrame, bad: np.ndarray, reason: reasons.Reason, column: str) -> None:
        if bad.any():
            rows = df[bad].copy()
            rows.insert(0, "sheet", self.sheet)
            self.quarantine.add(rows, reason, column)

    def _order(self, df: pd.DataFrame) -> np.ndarray:
        """Rows to keep; duplicate and out-of-order timestamps are quarantined."""
        ts = df[self.timestamp]
        previous = ts.cummax().shift(1)
        if self.last is not None and len(previous):
            previous.iloc[0] = self.last
            previous = previous.fillna(self.last).clip(lower=self.last)
        dup = (ts == previous).to_numpy()
        back = (ts < previous).to_numpy() & ~dup
        self._quarantine(df, dup, reasons.DUPLICATE_TIMESTAMP, self.timestamp)
        self._quarantine(df, back, reasons.TIMESTAMP_OUT_OF_ORDER, self.timestamp)
        keep = ~(dup | back)
        if keep.any():
            last = ts[keep].iloc[-1]
            self.last = last if self.last is None else max(self.last, last)
        return keep

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

    def _stuck(self, ts: pd.Series, values: np.ndarray) -> None:
        """Runs of one repeated value lasting >= stuck_seconds, counted once per run; every
        column at once ([rows, columns]), with the run in progress carried across chunks."""
        if not len(values):
            return
        t = ts.to_numpy().astype("datetime64[ms]").astype(np.int64)
        change = np.empty(values.shape, dtype=bool)
        change[0] = True if self.run_value is None else values[0] != self.run_value
        np.not_equal(values[1:], values[:-1], out=change[1:])
        # A column that changes at every row (a noisy sensor) has only one-sample runs.
        runs = ~change.all(axis=0) if self.period_s < self.stuck_s else np.ones(values.shape[1], dtype=bool)
        self.run_start[~runs], self.run_counted[~runs] = t[-1], False
        if runs.any():
            self._runs(t, change[:, runs] if not runs.all() else change, np.flatnonzero(runs))
        self.run_value = values[-1].copy()

    def _runs(self, t: np.ndarray, change: np.ndarray, cols: np.ndarray) -> None:
        """Count the long runs of columns `cols` (change: [rows, len(cols)]), update their state."""
        n = len(t)
        begin = np.maximum.accumulate(np.where(change, np.arange(n)[:, None], -1), axis=0)  # -1: began earlier
        began_at = np.where(begin >= 0, t[np.maximum(begin, 0)], self.run_start[cols][None, :])
        ends = np.ones(change.shape, dtype=bool)
        ends[:-1] = change[1:]
        long = ends & ((t[:, None] - began_at) / 1000.0 + self.period_s >= self.stuck_s)
        counted = self.run_counted[cols]
        new = long.sum(axis=0) - (counted & (long & (begin < 0)).any(axis=0))  # a carried run counts once
        for k in np.flatnonzero(new):
            col = self.columns[cols[k]]
            self.report.stuck_runs[col] = self.report.stuck_runs.get(col, 0) + int(new[k])
        self.run_counted[cols] = long[-1] | ((begin[-1] < 0) & counted)
        self.run_start[cols] = began_at[-1]


class Resampler:
    """Mean of each column over a regular grid of `period_s`, streamed: the last bin of a
    chunk is held back until the next chunk shows it is complete. Columns in `last` (batch
    and campaign names, text) take the bin's last value instead."""

    def __init__(self, timestamp: str, period_s: float, last: tuple[str, ...] = ()):
        self.timestamp, self.freq, self.last = timestamp, f"{int(period_s * 1000)}ms", list(last)
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
        groups = df.drop(columns=[self.timestamp, *self.last]).groupby(bins.to_numpy())
        if not self.last:
            return groups.mean()
        return groups.mean().join(df[self.last].groupby(bins.to_numpy()).last())

    def result(self) -> pd.DataFrame:
        if self.held is not None and not self.held.empty:
            self.done.append(self._mean(self.held, self.held[self.timestamp].dt.floor(self.freq)))
            self.held = None
        if not self.done:
            return pd.DataFrame()
        out = pd.concat(self.done)
        if not out.index.has_duplicates:
            return out
        groups = out.groupby(level=0)  # bins split across out-of-order rows merge here
        merged = groups[[c for c in out.columns if c not in self.last]].mean()
        return merged.join(groups[self.last].last()) if self.last else merged
