"""The aligned line data as model windows.

The whole run is held once as a float32 array (normalised with statistics of the training
period only); a window is a view into it, so memory does not grow with the number of
windows. Window t holds steps t-lookback+1..t and targets t+h for every horizon h.
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


@dataclass
class LineData:
    time: pd.DatetimeIndex
    values: np.ndarray            # [steps, channels], raw units, NaN where missing
    channels: list[str]
    targets: list[str]
    layout: dict
    events: pd.DataFrame          # scored disturbances (empty for real data)

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
    channels = [c for c in frame.columns if c != TIMESTAMP]
    if channels != layout["channels"]:
        raise DataValidationError(data_dir / ALIGNED_FILE, f"channels differ from {LAYOUT_FILE}: rerun prepare_line")
    events = pd.read_csv(data_dir / EVENTS_FILE)
    if len(events):
        events["start"], events["end"] = pd.to_datetime(events["start"]), pd.to_datetime(events["end"])
        events = events[events["scored"].astype(bool)].reset_index(drop=True)
    return LineData(pd.DatetimeIndex(frame[TIMESTAMP]), frame[channels].to_numpy(np.float32), channels,
                    list(layout["targets"]), layout, events)


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
                lo: int, hi: int, stride: int = 1) -> np.ndarray:
    """Window ends t in [lo, hi) whose history and targets (t+h < hi) are complete."""
    bad = np.isnan(values).any(axis=1).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(bad)])
    t = np.arange(max(lo, lookback - 1), hi - max(horizons), stride)
    ok = (csum[t + 1] - csum[t + 1 - lookback]) == 0
    for h in horizons:
        ok &= ~np.isnan(values[t + h][:, target_index]).any(axis=1)
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
        self.val_start, self.test_start = split_points(n, model_cfg.split, "model.process.split")
        self.x_norm = Normalizer.fit(data.values[: self.val_start])
        self.y_norm = Normalizer(self.x_norm.mean[data.target_index], self.x_norm.std[data.target_index])
        x = self.x_norm(data.values)
        self.x = np.nan_to_num(x, nan=0.0)  # NaN steps are never inside a used window
        self.y = np.ascontiguousarray(self.x[:, data.target_index])
        ti = data.target_index
        stride = int(model_cfg.stride)
        self.ends = {
            "train": window_ends(data.values, self.lookback, self.horizons, ti, 0, self.val_start, stride),
            "val": window_ends(data.values, self.lookback, self.horizons, ti, self.val_start, self.test_start),
            "test": window_ends(data.values, self.lookback, self.horizons, ti, self.test_start, n),
        }
        for name, ends in self.ends.items():
            if len(ends) == 0:
                raise ValueError(f"no complete {name} window: lengthen data.line.hours or shorten lookback/horizons")

    def dataset(self, part: str) -> WindowDataset:
        return WindowDataset(self.x, self.y, self.ends[part], self.lookback, self.horizons)

    def _loader(self, part: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.dataset(part), batch_size=int(self.cfg.batch_size), shuffle=shuffle, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

