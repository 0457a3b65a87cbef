"""Lightning wrappers: the forecaster (the template of pipeline/core/lightning.py: network, loss
and optimiser from conf/) and the windows as a DataModule."""
from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.core.lightning import TrainingModule
from pipeline.inventory.features import Windows


class UsageForecaster(TrainingModule):
    def _step(self, batch, stage: str):
        x, chemical, location, y = batch
        loss = self.loss(self(x, chemical, location), y)
        self.log_loss(stage, loss, len(x), prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")


def tensors(w: Windows, chem_index: np.ndarray, loc_index: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.from_numpy(w.x), torch.from_numpy(chem_index[w.series]),
                         torch.from_numpy(loc_index[w.series]), torch.from_numpy(w.y))


class UsageDataModule(pl.LightningDataModule):
    def __init__(self, train: Windows, val: Windows, chem_index: np.ndarray, loc_index: np.ndarray,
                 batch_size: int):
        super().__init__()
        if len(train.x) == 0 or len(val.x) == 0:
            raise ValueError(f"no {'training' if len(train.x) == 0 else 'validation'} windows: the log is too "
                             "short for model.inventory seq_len + horizon and the split fractions")
        self.train_set = tensors(train, chem_index, loc_index)
        self.val_set = tensors(val, chem_index, loc_index)
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=4096)


def predict(network: nn.Module, w: Windows, chem_index: np.ndarray, loc_index: np.ndarray) -> np.ndarray:
    network.eval()
    with torch.no_grad():
        x, c, loc, _ = tensors(w, chem_index, loc_index).tensors
        return network(x, c, loc).numpy() if len(x) else np.zeros((0, 0), np.float32)
