"""The aligned line data as model windows.

The whole run is held once as a float32 array (normalised with statistics of the training
period only); a window is a view into it, so memory does not grow with the number of
windows. Window t holds steps t-lookback+1..t and targets t+h for every horizon h.

Split (model.process.split): by batch where the data name batches (layout `segments`): the
last `test_batches` batches are the test, so the score says how the model does on a batch
it has not seen; the batches before are training and validation, the validation the most
recent val / (train + val) of their steps. Data without batches (the generated line) split
by time: train, val, test fractions. Model windows lie inside one batch (no window crosses
a batch or campaign boundary) and forecast the running press: the step a forecast is made
and every step it forecasts are `running` (pipeline/process/states.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from pipeline.contracts.line import ALIGNED_FILE, EVENTS_FILE, FILES, LAYOUT_FILE, TIMESTAMP, read_layout
from pipeline.core.split import split_points
from pipeline.core.validation import DataValidationError
from pipeline.process.control import robust_scale
from pipeline.process.states import RUNNING, StateRule, classify

SPLIT_BY = ("batch", "time")


@dataclass
class LineData:
    time: pd.DatetimeIndex
    values: np.ndarray            # [steps, channels], raw units, NaN where missing
    channels: list[str]
    targets: list[str]
    layout: dict
    events: pd.DataFrame          # scored disturbances (empty for real data)
    segments: np.ndarray          # [steps] batch number 0, 1, ... (changes with any layout `segments` column)
    segment_names: list[str]      # e.g. "campaign 80, batch 368" per batch number
    rule: StateRule | None        # how the operating state is told (None: every step is running)
    states: np.ndarray            # [steps] state code (pipeline/process/states.py)

    @property
    def target_index(self) -> list[int]:
        return [self.channels.index(t) for t in self.targets]

    @property
    def period_s(self) -> float:
        return float(self.layout["align_period_s"])


def load_line(data_dir: str | Path) -> LineData:
    """data/line as written by prepare_line, with clear errors for a missing or stale folder."""
    data_dir = Path(data_dir)
    for name in FILES:
        if not (data_dir / name).exists():
            raise FileNotFoundError(f"{data_dir / name} not found: run `python -m pipeline.data line` first")
    layout = read_layout(data_dir / LAYOUT_FILE)
    frame = pd.read_parquet(data_dir / ALIGNED_FILE)
    segment_columns = list(layout["segments"])
    channels = [c for c in frame.columns if c not in (TIMESTAMP, *segment_columns)]
    if channels != layout["channels"] or any(c not in frame.columns for c in segment_columns):
        raise DataValidationError(data_dir / ALIGNED_FILE, f"columns differ from {LAYOUT_FILE}: rerun prepare_line")
    events = pd.read_csv(data_dir / EVENTS_FILE)
    if len(events):
        events["start"], events["end"] = pd.to_datetime(events["start"]), pd.to_datetime(events["end"])
        events = events[events["scored"].astype(bool)].reset_index(drop=True)
    segments, names = segment_ids(frame, segment_columns)
    time = pd.DatetimeIndex(frame[TIMESTAMP])
    values = frame[channels].to_numpy(np.float32)
    rule = StateRule.from_config(layout["states"]) if layout["states"] else None
    states = classify(time, values, channels, rule) if rule else np.full(len(values), RUNNING, np.int8)
    return LineData(time, values, channels, list(layout["targets"]), layout, events, segments, names, rule, states)


def segment_ids(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str]]:
    """Batch number per row (a new one wherever any segment column changes) and their names."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64), ["all"]
    seg = frame[columns].astype(str)
    change = (seg != seg.shift()).any(axis=1).to_numpy().copy()
    change[0] = True
    ids = np.cumsum(change) - 1
    first = seg[change]
    names = [", ".join(f"{c} {v}" for c, v in zip(columns, row)) for row in first.itertuples(index=False)]
    return ids.astype(np.int64), names


def split_steps(data: LineData, split: DictConfig, where: str = "model.process.split") -> tuple[int, int, str]:
    """(first validation step, first test step, how it was split: 'batch' or 'time')."""
    by = str(split.get("by", "time"))
    if by not in SPLIT_BY:
        raise ValueError(f"{where}.by must be one of {SPLIT_BY}, not {by!r}")
    n = len(data.values)
    n_segments = int(data.segments[-1]) + 1 if n else 0
    if by == "time" or n_segments < 2:
        return (*split_points(n, split, where), "time")
    test_batches = int(split.get("test_batches", 1))
    if not 1 <= test_batches < n_segments:
        raise ValueError(f"{where}.test_batches must lie in 1..{n_segments - 1} (the data hold {n_segments} batches)")
    test_start = int(np.flatnonzero(data.segments == n_segments - test_batches)[0])
    train, val = float(split["train"]), float(split["val"])
    if not (0 < train and 0 < val):
        raise ValueError(f"{where}: need 0 < train, 0 < val; got {train}, {val}")
    val_start = test_start - max(1, round(test_start * val / (train + val)))
    return val_start, test_start, "batch"


@dataclass
class Normalizer:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "Normalizer":
        """Median and MAD-based scale: press stops (forces at 0) would otherwise inflate the
        std so much that normal fluctuations vanish from the loss."""
        center, scale = robust_scale(values, 1e-8, 1.0)  # constant channels pass unscaled
        return cls(np.nan_to_num(center).astype(np.float32), scale.astype(np.float32))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)


def window_ends(values: np.ndarray, lookback: int, horizons: list[int], target_index: list[int],
                lo: int, hi: int, stride: int = 1, segments: np.ndarray | None = None,
                usable: np.ndarray | None = None) -> np.ndarray:
    """Window ends t in [lo, hi) whose history and targets (t+h < hi) are complete; with
    `segments`, only windows inside one batch (t-lookback+1 .. t+max(h)); with `usable` (a
    step mask, e.g. running), only windows whose steps t .. t+max(h) are all usable."""
    bad = np.isnan(values).any(axis=1).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(bad)])
    t = np.arange(max(lo, lookback - 1), hi - max(horizons), stride)
    ok = (csum[t + 1] - csum[t + 1 - lookback]) == 0
    for h in horizons:
        ok &= ~np.isnan(values[t + h][:, target_index]).any(axis=1)
    if segments is not None:
        ok &= segments[t - lookback + 1] == segments[t + max(horizons)]  # batch numbers only grow
    if usable is not None:
        unusable = np.concatenate([[0], np.cumsum(~usable)])
        ok &= (unusable[t + max(horizons) + 1] - unusable[t]) == 0
    return t[ok]


class WindowDataset(Dataset):
    """Index-based windows over one shared array (no copies)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, ends: np.ndarray, lookback: int, horizons: list[int]):
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.ends, self.lookback = torch.as_tensor(ends), lookback
        self.horizons = torch.as_tensor(horizons)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        t = int(self.ends[i])
        return self.x[t - self.lookback + 1 : t + 1], self.y[t + self.horizons]


class LineDataModule(pl.LightningDataModule):
    """Chronological train / val / test windows of the aligned line data."""

    def __init__(self, data: LineData, model_cfg: DictConfig):
        super().__init__()
        self.data, self.cfg = data, model_cfg
        self.lookback, self.horizons = int(model_cfg.lookback), [int(h) for h in model_cfg.horizons]
        n = len(data.values)
        self.val_start, self.test_start, self.split_by = split_steps(data, model_cfg.split)
        self.x_norm = Normalizer.fit(data.values[: self.val_start])
        self.y_norm = Normalizer(self.x_norm.mean[data.target_index], self.x_norm.std[data.target_index])
        x = self.x_norm(data.values)
        self.x = np.nan_to_num(x, nan=0.0)  # NaN steps are never inside a used window
        self.y = np.ascontiguousarray(self.x[:, data.target_index])
        stride = int(model_cfg.stride)
        self.ends = {part: self.model_windows(lo, hi, stride if part == "train" else 1)
                     for part, lo, hi in (("train", 0, self.val_start), ("val", self.val_start, self.test_start),
                                          ("test", self.test_start, n))}
        for name, ends in self.ends.items():
            if len(ends) == 0:
                raise ValueError(f"no complete running {name} window: lengthen data.line.hours, shorten "
                                 "lookback/horizons or check data.line.states")

    def model_windows(self, lo: int, hi: int, stride: int = 1) -> np.ndarray:
        """Ends of the windows the model is fitted and scored on in [lo, hi): complete, inside
        one batch, running from the forecast's origin to its farthest horizon."""
        d = self.data
        return window_ends(d.values, self.lookback, self.horizons, d.target_index, lo, hi, stride,
                           d.segments, d.states == RUNNING)

    def dataset(self, part: str) -> WindowDataset:
        return WindowDataset(self.x, self.y, self.ends[part], self.lookback, self.horizons)

    def _loader(self, part: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.dataset(part), batch_size=int(self.cfg.batch_size), shuffle=shuffle, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

