"""The fault log as a LightningDataModule: chronological split, min-max scaling fitted on
the training split only, float32 tensors in the ONNX input order."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, TensorDataset

from pipeline.contracts.fault_log import FEATURES, LABEL, LOG_COLUMNS, LOG_FILE, TIMESTAMP, TRUE_PROB, TRUTH_FILE
from pipeline.contracts.fault_model import MinMaxScaling
from pipeline.core.split import split_slices
from pipeline.core.validation import DataValidationError, file_row, require_columns


@dataclass
class Split:
    raw: np.ndarray            # [n, 6] inputs in engineering units, FEATURES order
    y: np.ndarray              # [n] 0/1 labels
    true_prob: np.ndarray | None  # [n] generator's probability, None for real data
    first: str
    last: str

    def __len__(self) -> int:
        return len(self.y)


def read_log(data_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """data/fault/log.parquet (checked) and truth.parquet if the data were generated."""
    data_dir = Path(data_dir)
    path = data_dir / LOG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the prepare_fault stage (python -m pipeline.data fault)")
    log = pd.read_parquet(path)
    require_columns(log, LOG_COLUMNS, path)
    for name in [*FEATURES, LABEL]:
        bad = ~np.isfinite(log[name].to_numpy(dtype=float))
        if bad.any():
            raise DataValidationError(path, "not a finite number", file_row(np.argmax(bad)), name)
    if not log[TIMESTAMP].is_monotonic_increasing:
        raise DataValidationError(path, "timestamps are not in order", column=TIMESTAMP)
    truth_path = data_dir / TRUTH_FILE
    truth = pd.read_parquet(truth_path) if truth_path.exists() else None
    if truth is not None and not truth[TIMESTAMP].equals(log[TIMESTAMP]):
        raise DataValidationError(truth_path, f"timestamps differ from {path.name}: regenerate both")
    return log, truth


def chronological_split(log: pd.DataFrame, truth: pd.DataFrame | None, split_cfg: DictConfig) -> dict[str, Split]:
    """train = the oldest rows, then val, then test = the most recent (no future in the past)."""
    out = {}
    for name, rows in split_slices(len(log), split_cfg, "model.fault.split").items():
        part = log.iloc[rows]
        if part[LABEL].nunique() < 2:
            raise ValueError(f"the {name} split ({len(part)} rows) holds one class only: use more rows")
        out[name] = Split(raw=part[FEATURES].to_numpy(np.float64), y=part[LABEL].to_numpy(np.int64),
                          true_prob=None if truth is None else truth[TRUE_PROB].to_numpy()[rows],
                          first=str(part[TIMESTAMP].iloc[0]), last=str(part[TIMESTAMP].iloc[-1]))
    return out


class FaultDataModule(pl.LightningDataModule):
    def __init__(self, data_dir: str | Path, split: DictConfig, batch_size: int):
        super().__init__()
        self.data_dir, self.split_cfg, self.batch_size = Path(data_dir), split, int(batch_size)
        self.splits: dict[str, Split] = {}
        self.scaling: MinMaxScaling | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        log, truth = read_log(self.data_dir)
        self.splits = chronological_split(log, truth, self.split_cfg)
        self.scaling = MinMaxScaling.fit(self.splits["train"].raw)

    @property
    def has_truth(self) -> bool:
        return self.splits["test"].true_prob is not None

    def scaled(self, name: str) -> np.ndarray:
        return self.scaling.apply(self.splits[name].raw)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        x = torch.from_numpy(self.scaled(name))
        y = torch.from_numpy(self.splits[name].y.astype(np.float32)).unsqueeze(1)
        return DataLoader(TensorDataset(x, y), batch_size=self.batch_size, shuffle=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
