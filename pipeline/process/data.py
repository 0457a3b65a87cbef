"""The aligned line data as model windows, split for cross-validation by batch.

The whole run is held once as a float32 array (normalised with statistics of the development
steps only: everything but the test); a window is a view into it, so memory does not grow with
the number of windows. Window t holds steps t-lookback+1..t and targets t+h for every horizon h.

Split (model.process.split): by batch where the data name batches (layout `segments`): the
test is the batches named in `test_names`, else the last `test_batches` batches; every other
batch is a development batch, and the cross-validation groups are those batches (no window and
no fold mixes two). Data without batches (the generated line) split by time: the first
train + val share of the run is the development period, cut into `select.time_blocks`
consecutive blocks that serve as the groups, and the rest is the test. Model windows lie
inside one group (no window crosses a batch, campaign or block boundary) and forecast the
running press: the step a forecast is made and every step it forecasts are `running`
(pipeline/process/states.py). Each batch's operating states are told on their own (a batch
starts afresh: no stop of the batch before it counts).
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

from pipeline.contracts.line import ALIGNED_FILE, EVENTS_FILE, FILES, LAYOUT_FILE, TIMESTAMP, batch_name, read_layout
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
    segment_names: list[str]      # e.g. "code 6, campaign 80, batch 368" per batch number
    rule: StateRule | None        # how the operating state is told (None: every step is running)
    states: np.ndarray            # [steps] state code (pipeline/process/states.py)
    products: list[str] | None = None   # product per batch number (layout `product`); None: one product
    segment_values: list[tuple] | None = None  # the segment columns' values per batch number

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
    segments, names, keys = segment_ids(frame, segment_columns)
    time = pd.DatetimeIndex(frame[TIMESTAMP])
    values = frame[channels].to_numpy(np.float32)
    rule = StateRule.from_config(layout["states"]) if layout["states"] else None
    states = np.full(len(values), RUNNING, np.int8)
    if rule:  # per batch: a batch starts afresh (and batches of several files may overlap in time)
        for lo, hi in batch_bounds(segments):
            states[lo:hi] = classify(time[lo:hi], values[lo:hi], channels, rule)
    product = layout.get("product")
    products = [k[segment_columns.index(product)] for k in keys] if product else None
    return LineData(time, values, channels, list(layout["targets"]), layout, events, segments, names, rule, states,
                    products, keys)


def segment_ids(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str], list[tuple]]:
    """Batch number per row (a new one wherever any segment column changes), their names and
    their segment values."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64), ["all"], [()]
    seg = frame[columns].astype(str)
    change = (seg != seg.shift()).any(axis=1).to_numpy().copy()
    change[0] = True
    ids = np.cumsum(change) - 1
    keys = [tuple(row) for row in seg[change].itertuples(index=False)]
    return ids.astype(np.int64), [batch_name(columns, k) for k in keys], keys


def batch_bounds(segments: np.ndarray) -> list[tuple[int, int]]:
    """[first, end) step of each batch number (batch numbers only grow)."""
    if not len(segments):
        return []
    starts = np.flatnonzero(np.diff(segments, prepend=-1))
    return list(zip(starts.tolist(), [*starts[1:].tolist(), len(segments)]))


@dataclass
class Split:
    """Which steps are the test and which cross-validation group every step belongs to."""
    by: str                   # "batch" or "time"
    group: np.ndarray         # [steps] group number: the batch (by batch) or time block (by time)
    test: np.ndarray          # [steps] bool: held out until the end, never fitted or selected on
    names: list[str]          # per group: the batch's name, or the block's hours

    @property
    def dev_groups(self) -> list[int]:
        """Groups of the development steps, in order (the cross-validation's)."""
        return sorted(set(self.group[~self.test].tolist()))

    @property
    def test_groups(self) -> list[int]:
        return sorted(set(self.group[self.test].tolist()))

    @property
    def test_names(self) -> list[str]:
        return [self.names[g] for g in self.test_groups]


def split_groups(data: LineData, split: DictConfig, time_blocks: int, where: str = "model.process.split") -> Split:
    """The test and the cross-validation groups (see the module's docstring)."""
    by = str(split.get("by", "time"))
    if by not in SPLIT_BY:
        raise ValueError(f"{where}.by must be one of {SPLIT_BY}, not {by!r}")
    n = len(data.values)
    n_batches = len(data.segment_names)
    if by == "time" or n_batches < 2:
        _, test_start = split_points(n, split, where)
        if test_start < time_blocks:
            raise ValueError(f"model.process.select.time_blocks {time_blocks} exceeds the {test_start} development steps")
        edges = np.linspace(0, test_start, time_blocks + 1).round().astype(int)
        group = np.searchsorted(edges[1:], np.arange(n), side="right")  # the test is group time_blocks
        hours = lambda i: i * data.period_s / 3600  # noqa: E731
        names = [f"hours {hours(a):.1f}-{hours(b):.1f}" for a, b in zip(edges[:-1], edges[1:])] + ["test"]
        return Split("time", group, np.arange(n) >= test_start, names)
    test_batches = test_batch_numbers(data, split, where)
    if len(test_batches) >= n_batches:
        raise ValueError(f"{where}: the test takes every batch; leave at least one for development")
    test = np.isin(data.segments, test_batches)
    if n_batches - len(test_batches) >= 2:
        return Split("batch", data.segments.copy(), test, list(data.segment_names))
    # one development batch: its time blocks, of equal running time, are the groups (a real batch may
    # stand still for a weekend); the test is still the held-out batch
    dev = np.flatnonzero(~test)
    running = np.cumsum(data.states[dev] == RUNNING)
    if running[-1] < time_blocks:
        raise ValueError(f"model.process.select.time_blocks {time_blocks} exceeds the {running[-1]} running "
                         "development steps")
    cuts = np.searchsorted(running, np.linspace(0, running[-1], time_blocks + 1)[1:-1], side="left")
    edges = np.concatenate([[0], cuts, [len(dev)]])
    group = np.empty(n, dtype=np.int64)
    group[dev] = np.searchsorted(edges[1:], np.arange(len(dev)), side="right")
    group[test] = time_blocks + np.searchsorted(test_batches, data.segments[test])
    only = data.segment_names[int(data.segments[dev[0]])]
    hours = lambda i: i * data.period_s / 3600  # noqa: E731
    names = [f"{only}, hours {hours(a):.1f}-{hours(b):.1f}" for a, b in zip(edges[:-1], edges[1:])]
    return Split("batch", group, test, names + [data.segment_names[b] for b in test_batches])


def test_batch_numbers(data: LineData, split: DictConfig, where: str) -> list[int]:
    """The batches named in `test_names` (a name as metrics.json writes it, or a batch's last
    segment value, e.g. its batch number), else the last `test_batches` batches."""
    n_batches = len(data.segment_names)
    names = split.get("test_names")
    if names:
        chosen = []
        for name in (str(x) for x in names):
            hits = [b for b, (full, key) in enumerate(zip(data.segment_names, data.segment_values or []))
                    if name in (full, str(key[-1]) if key else full)]
            if len(hits) != 1:
                raise ValueError(f"{where}.test_names: {name!r} names {len(hits)} batches; the batches are "
                                 f"{data.segment_names}")
            chosen += hits
        return sorted(set(chosen))
    test_batches = int(split.get("test_batches", 1))
    if not 1 <= test_batches < n_batches:
        raise ValueError(f"{where}.test_batches must lie in 1..{n_batches - 1} (the data hold {n_batches} batches)")
    return list(range(n_batches - test_batches, n_batches))


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


class Windows:
    """Every model window of the run (complete, inside one group, running from the forecast's
    origin to its farthest horizon), the normalised array they view, and which group each
    window belongs to. A window holds `span` steps (what the deployed model receives; at
    least `lookback`, more when the recent-best forecaster looks further back); the LSTM
    trains on its last `lookback`."""

    def __init__(self, data: LineData, split: Split, lookback: int, horizons: list[int], span: int | None = None):
        self.data, self.split, self.lookback, self.horizons = data, split, int(lookback), [int(h) for h in horizons]
        self.span = max(self.lookback, int(span or 0))
        self.x_norm = Normalizer.fit(data.values[~split.test])
        self.y_norm = Normalizer(self.x_norm.mean[data.target_index], self.x_norm.std[data.target_index])
        x = self.x_norm(data.values)
        self.x = np.nan_to_num(x, nan=0.0)  # NaN steps are never inside a used window
        self.y = np.ascontiguousarray(self.x[:, data.target_index])
        self.ends = window_ends(data.values, self.span, self.horizons, data.target_index, 0, len(data.values),
                                1, split.group, data.states == RUNNING)
        self.group = split.group[self.ends]
        if not split.test[self.ends].any():
            raise ValueError("no complete running test window: lengthen data.line.hours, shorten lookback/horizons "
                             "or check data.line.states")

    @property
    def test(self) -> np.ndarray:
        return self.ends[self.split.test[self.ends]]

    def of(self, groups) -> np.ndarray:
        """Window ends in `groups`."""
        return self.ends[np.isin(self.group, list(groups))]

    def fit_and_stop(self, groups, stop_share: float, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Window ends of `groups` split for training: the last `stop_share` of each group's
        windows are the early-stopping set, the rest (every `stride`-th) the training set."""
        fit, stop = [], []
        for g in groups:
            ends = self.ends[self.group == g]
            cut = len(ends) - int(round(len(ends) * stop_share))
            fit.append(ends[:cut:stride])
            stop.append(ends[cut:])
        return np.concatenate(fit), np.concatenate(stop)

    def dataset(self, ends: np.ndarray) -> WindowDataset:
        return WindowDataset(self.x, self.y, ends, self.lookback, self.horizons)


class FoldData(pl.LightningDataModule):
    """One fold's training and early-stopping windows (views into `Windows`)."""

    def __init__(self, windows: Windows, train_ends: np.ndarray, stop_ends: np.ndarray, batch_size: int):
        super().__init__()
        self.windows, self.batch_size = windows, int(batch_size)
        self.train_ends, self.stop_ends = train_ends, stop_ends
        for name, ends in (("training", train_ends), ("early-stopping", stop_ends)):
            if len(ends) == 0:
                raise ValueError(f"no complete running {name} window in a fold: lengthen data.line.hours, shorten "
                                 "lookback/horizons, lower select.time_blocks or check data.line.states")

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.windows.dataset(self.train_ends), batch_size=self.batch_size, shuffle=True, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.windows.dataset(self.stop_ends), batch_size=self.batch_size, shuffle=False, num_workers=0)
