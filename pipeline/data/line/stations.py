"""Per-station channels of the Tablet Press sheet (data.line.press): their names, their
generation from the press-level signals, and their reduction to summary channels for the
aligned grid.

A rotary press with per-punch monitoring reports one value per station and quantity, which
is what makes the study's workbook ~690 values per second. The forecaster takes every
aligned channel as an input, so at alignment each quantity's stations become two channels
(per 1 Hz row: mean over stations and relative spread, then resampled like any channel);
the raw Parquet keeps every station column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.core.validation import DataValidationError


def station_groups(line: DictConfig) -> dict[str, list[str]]:
    """Columns of each per-station quantity, station 1 first ({} without stations)."""
    press = line.get("press")
    if press is None or int(press.stations) == 0:
        return {}
    stations = range(1, int(press.stations) + 1)
    return {str(q): [str(press.column).format(quantity=q, n=n) for n in stations] for q in press.quantities}


def summary_columns(line: DictConfig) -> dict[str, dict[str, str]]:
    """Per quantity, the aligned channel of each summary statistic (mean, spread)."""
    templates = line.press.summary
    return {q: {stat: str(name).format(quantity=q) for stat, name in templates.items()}
            for q in station_groups(line)}


class StationGenerator:
    """One chunk of station values from the press-level signals (noise-free, by name):
    value = signal * scale * station gain * (1 + noise), in one vectorised block."""

    def __init__(self, line: DictConfig, rng: np.random.Generator):
        self.press, self.rng = line.press, rng
        self.groups = station_groups(line)
        self.names = [c for cols in self.groups.values() for c in cols]
        self.dtype = np.dtype(str(self.press.dtype))
        shape = (len(self.groups), int(self.press.stations))
        self.gain = (1.0 + rng.normal(0.0, float(self.press.offset), shape)).astype(self.dtype)

    def __call__(self, signals: dict[str, np.ndarray]) -> pd.DataFrame:
        n = len(next(iter(signals.values())))
        stations = self.gain.shape[1]
        values = self.rng.standard_normal((len(self.names), n), dtype=self.dtype)
        for j, (q, spec) in enumerate(self.press.quantities.items()):
            if spec.follows not in signals:
                raise KeyError(f"data.line.press.quantities.{q}.follows: no press signal '{spec.follows}' "
                               f"(signals: {sorted(signals)})")
            block = values[j * stations:(j + 1) * stations]
            block *= float(spec.noise)
            block += 1.0
            block *= self.gain[j][:, None]
            block *= (signals[spec.follows] * float(spec.scale)).astype(self.dtype)[None, :]
        return pd.DataFrame(values.T, columns=self.names, copy=False)  # [rows, columns] view, no copy


class StationSummary:
    """Replaces a sheet's station columns by per-row summaries (aligned grid only)."""

    def __init__(self, line: DictConfig, sheet: str, columns: list[str], file: str):
        groups = station_groups(line)
        self.sheet = sheet
        self.groups = groups if groups and sheet == str(line.sheets.press) else {}
        self.names = summary_columns(line) if self.groups else {}
        wanted = [c for cols in self.groups.values() for c in cols]
        missing = sorted(set(wanted) - set(columns))
        if missing:
            raise DataValidationError(file, f"sheet '{sheet}' lacks {len(missing)} station column(s) of data.line.press "
                                            f"(stations: {line.press.stations}), e.g. {missing[:3]}", column=missing[0])
        self.station_columns = set(wanted)

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.groups:
            return df
        out = df[[c for c in df.columns if c not in self.station_columns]].copy()
        for q, cols in self.groups.items():
            values = df[cols].to_numpy()
            mean = values.mean(axis=1, dtype=np.float64)
            std = values.std(axis=1, dtype=np.float64)
            out[self.names[q]["mean"]] = mean
            out[self.names[q]["spread"]] = np.divide(std, np.abs(mean), out=np.zeros_like(std), where=mean != 0)
        return out

    def describe(self) -> dict:
        """What was aggregated, for the metrics and layout.json ({} when nothing was)."""
        if not self.groups:
            return {}
        return {"sheet": self.sheet, "stations": len(next(iter(self.groups.values()))),
                "columns": sum(len(c) for c in self.groups.values()),
                "aligned_as": {q: list(self.names[q].values()) for q in self.groups}}
