"""The CPP forecaster: an LSTM over the window, a linear head to every (horizon, target)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torchmetrics import MeanAbsoluteError

from pipeline.core.lightning import TrainingModule


class LSTMNet(nn.Module):
    """[batch, lookback, inputs] -> [batch, horizons, targets] (normalised units).

    The head predicts the change from the last observed value of each target (which is
    itself an input): the network starts from persistence and learns what it misses."""

    def __init__(self, n_inputs: int, target_index: list[int], n_horizons: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        n_targets = len(target_index)
        self.n_targets, self.n_horizons = n_targets, n_horizons
        self.register_buffer("target_index", torch.as_tensor(list(target_index), dtype=torch.long))
        self.lstm = nn.LSTM(n_inputs, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, n_targets * n_horizons)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        last = x[:, -1, :].index_select(1, self.target_index)
        return last[:, None, :] + self.head(out[:, -1]).reshape(-1, self.n_horizons, self.n_targets)


def build_network(model_cfg: DictConfig, n_inputs: int, target_index: list[int]) -> nn.Module:
    return instantiate(model_cfg.network, n_inputs=n_inputs, target_index=list(target_index),
                       n_horizons=len(model_cfg.horizons))


class Forecaster(TrainingModule):
    """Loss (conf `loss`) and MAE in normalised units per epoch; no LR scheduler."""

    def __init__(self, network: nn.Module, loss: nn.Module, optimizer: Callable, scheduler: Callable | None = None):
        super().__init__(network, loss, optimizer, scheduler)
        self.epoch_metrics.update({f"{stage}_mae": MeanAbsoluteError() for stage in ("train", "val")})

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        pred = self(x)
        loss = self.loss(pred, y)
        self.log_loss(stage, loss, len(x), prog_bar=stage == "val")
        mae = self.epoch_metrics[f"{stage}_mae"]
        mae.update(pred.detach(), y)
        self.log(f"{stage}/mae_norm", mae, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")


class RawUnitsForecaster(nn.Module):
    """The exported model: raw sensor values in, raw target forecasts out (the training
    period's normalisation is inside, so the monitor needs nothing but the ONNX file)."""

    def __init__(self, network: nn.Module, x_mean: np.ndarray, x_std: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray):
        super().__init__()
        self.network = network
        for name, value in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
            self.register_buffer(name, torch.as_tensor(np.asarray(value, dtype=np.float32)))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.network((window - self.x_mean) / self.x_std) * self.y_std + self.y_mean
