"""The CPP forecaster: an LSTM over the window that corrects a baseline, and the deployed
model that uses, per horizon and target, the LSTM or a baseline (whichever won on validation).

- `StateFeatures`: the operating state (stopped, ramping, running; pipeline/process/states.py)
  of every step of the window, one-hot, computed inside the graph from the speed and force
  channels, so the exported model still takes the raw channels and nothing else.
- `LSTMNet`: [batch, lookback, channels] -> [batch, horizons, targets] in normalised units:
  the base filter's forecast (the baseline chosen by cross-validation) plus a learned
  correction. The correction's layer starts at zero, so the untrained network *is* the
  baseline. With `context: window` the LSTM sees each channel as its deviation from the
  window's own recent level (the mean of its last `level_steps` steps), not its absolute
  value: a batch running at another level (another product, another set-up) looks like any
  other to it, and the level enters the forecast through the base filter alone.
- `LineForecaster`: the Lightning module that trains it.
- `LSTMEnsemble`: the mean of the LSTMs fitted in the cross-validation folds (raw units).
- `DeployedForecaster`: raw units in and out (the development period's normalisation inside),
  the LSTM where it won across folds, the selected baseline's filter elsewhere.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torchmetrics import MeanAbsoluteError

from pipeline.contracts.process_model import ProcessModelMetadata
from pipeline.core.lightning import TrainingModule
from pipeline.core.settings.model_process import CONTEXTS  # the names conf/ may choose
from pipeline.process.baselines import LinearFilter
from pipeline.process.states import StateRule

N_STATES = 3  # stopped, ramping, running


class BaseFilter(nn.Module):
    """A baselines.LinearFilter as a module: [batch, lookback, channels] -> [batch, horizons, targets]."""

    def __init__(self, f: LinearFilter, target_index: list[int]):
        super().__init__()
        self.register_buffer("target_index", torch.as_tensor(list(target_index), dtype=torch.long))
        self.register_buffer("weight", torch.as_tensor(f.weights, dtype=torch.float32))  # [H, T, W]
        self.register_buffer("bias", torch.as_tensor(f.bias, dtype=torch.float32))       # [H, T]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, -self.weight.shape[-1]:, :].index_select(2, self.target_index).transpose(1, 2)  # [B, T, W]
        return (y[:, None] * self.weight[None]).sum(-1) + self.bias


def normalised_filter(f: LinearFilter, mean: np.ndarray, std: np.ndarray) -> LinearFilter:
    """The same filter on normalised targets: with y = y_n * std + mean per target,
    (sum w y + b - mean) / std = sum w y_n + (b + mean (sum w - 1)) / std."""
    bias = (f.bias + mean[None] * (f.weights.sum(-1) - 1.0)) / std[None]
    return LinearFilter(f.name, f.weights, bias)


class StateFeatures(nn.Module):
    """One-hot operating state of every step of a normalised window, as classify() tells it
    (the settle time counted in steps inside the window; steps before the window are taken to
    be like its first)."""

    def __init__(self, rule: StateRule, channels: list[str], mean: np.ndarray, std: np.ndarray, period_s: float):
        super().__init__()
        norm = lambda ch, v: float((v - mean[channels.index(ch)]) / std[channels.index(ch)])  # noqa: E731
        self.i_speed = channels.index(rule.speed)
        self.stopped_below, self.running_from = norm(rule.speed, rule.stopped_below), norm(rule.speed, rule.running_from)
        self.i_force = channels.index(rule.force) if rule.force else None
        self.force_from = norm(rule.force, rule.force_from) if rule.force else 0.0
        self.settle = max(1, math.ceil(rule.settle_s / period_s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        speed = x[..., self.i_speed]
        stopped = (speed < self.stopped_below).float()
        recent = F.max_pool1d(F.pad(stopped[:, None, :], (self.settle - 1, 0), mode="replicate"), self.settle, 1)[:, 0]
        producing = (speed >= self.running_from).float()
        if self.i_force is not None:
            producing = producing * (x[..., self.i_force] >= self.force_from).float()
        running = (1.0 - recent) * producing * (1.0 - stopped)
        return torch.stack([stopped, 1.0 - stopped - running, running], dim=-1)


class LSTMNet(nn.Module):
    """[batch, lookback, inputs] -> [batch, horizons, targets] (normalised units): `base`'s
    forecast plus the head's correction (zero-initialised). Without a base, the last value of
    each target (persistence) is the base. `context`: "global" feeds the normalised window,
    "window" each channel's deviation from the mean of the window's last `level_steps` steps
    (the state features still see the absolute speed and force)."""

    def __init__(self, n_inputs: int, target_index: list[int], n_horizons: int, hidden: int, layers: int,
                 dropout: float, base: nn.Module | None = None, states: nn.Module | None = None,
                 context: str = "global", level_steps: int = 12, steps: int | None = None):
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"model.process.network.context must be one of {CONTEXTS}, not {context!r}")
        self.context, self.level_steps = context, int(level_steps)
        self.steps = int(steps) if steps else None  # the last steps of a longer window it reads (lookback)
        n_targets = len(target_index)
        self.n_targets, self.n_horizons = n_targets, n_horizons
        self.register_buffer("target_index", torch.as_tensor(list(target_index), dtype=torch.long))
        self.base, self.states = base, states
        self.lstm = nn.LSTM(n_inputs + (N_STATES if states is not None else 0), hidden, num_layers=layers,
                            batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, n_targets * n_horizons)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.steps is not None:
            x = x[:, -self.steps:, :]
        if self.base is not None:
            base = self.base(x)
        else:
            base = x[:, -1, :].index_select(1, self.target_index)[:, None, :].expand(-1, self.n_horizons, -1)
        seen = x - x[:, -self.level_steps:, :].mean(dim=1, keepdim=True) if self.context == "window" else x
        inputs = torch.cat([seen, self.states(x)], dim=-1) if self.states is not None else seen
        out, _ = self.lstm(inputs)
        return base + self.head(out[:, -1]).reshape(-1, self.n_horizons, self.n_targets)


def build_network(model_cfg: DictConfig, n_inputs: int, target_index: list[int], base: nn.Module | None = None,
                  states: nn.Module | None = None) -> nn.Module:
    return instantiate(model_cfg.network, n_inputs=n_inputs, target_index=list(target_index),
                       n_horizons=len(model_cfg.horizons), base=base, states=states, steps=int(model_cfg.lookback))


class LineForecaster(TrainingModule):
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
    """The LSTM in raw units: raw sensor values in, raw target forecasts out (the training
    period's normalisation is inside)."""

    def __init__(self, network: nn.Module, x_mean: np.ndarray, x_std: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray):
        super().__init__()
        self.network = network
        for name, value in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
            self.register_buffer(name, torch.as_tensor(np.asarray(value, dtype=np.float32)))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.network((window - self.x_mean) / self.x_std) * self.y_std + self.y_mean


class LSTMEnsemble(nn.Module):
    """The mean forecast of the LSTMs of the cross-validation folds (each raw units in and out):
    every one of them was scored on a batch it had not seen, and together they are deployed
    without a further fit."""

    def __init__(self, members: list[RawUnitsForecaster]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(window) for m in self.members]).mean(dim=0)


FALLBACK, USE_LSTM, USE_RECENT = 0, 1, 2  # DeployedForecaster.use per (horizon, target)


class DeployedForecaster(nn.Module):
    """The exported model: per (horizon, target), the LSTM's forecast (it won across the folds),
    the recent-best forecaster's (pipeline/process/recent_best.py) or the selected baseline's
    (`fallback`, raw units), as `use` says (FALLBACK, USE_LSTM, USE_RECENT). Raw window in, raw
    forecasts out, so the monitor needs nothing but the ONNX file."""

    def __init__(self, lstm: LSTMEnsemble, fallback: BaseFilter, use: np.ndarray, recent: nn.Module | None = None):
        super().__init__()
        self.lstm, self.fallback, self.recent = lstm, fallback, recent
        use = np.asarray(use, dtype=np.int64)
        if recent is None and (use == USE_RECENT).any():
            raise ValueError("the recent-best forecaster is selected but not given")
        self.register_buffer("use", torch.as_tensor(use))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        out = torch.where(self.use == USE_LSTM, self.lstm(window), self.fallback(window))
        if self.recent is not None:
            out = torch.where(self.use == USE_RECENT, self.recent(window), out)
        return out


def load_deployed(model_cfg: DictConfig, meta: ProcessModelMetadata, weights: dict) -> DeployedForecaster:
    """The deployed forecaster from its weights-only checkpoint (models/process_lstm.pt) and the
    checked ONNX metadata (channels, targets, horizons, window, the state rule, the number of
    fold LSTMs, the recent-best forecaster's shape): the structure is rebuilt, every number comes
    from the checkpoint."""
    from pipeline.process.recent_best import RecentBestModule

    channels, targets = list(meta.channels), list(meta.targets)
    index = meta.target_index
    shape = (len(meta.horizons), len(targets))
    width = int(model_cfg.lookback)
    blank = LinearFilter("blank", np.zeros((*shape, width)), np.zeros(shape))
    rule = meta.golden.get("rule")
    ones = np.ones(len(channels), np.float32)
    members = []
    for k in range(meta.lstm_members):
        prefix = f"lstm.members.{k}."
        states = (StateFeatures(StateRule.from_dict(rule), channels, weights[prefix + "x_mean"].numpy(),
                                weights[prefix + "x_std"].numpy(), meta.period_s) if rule else None)
        network = build_network(model_cfg, len(channels), index, base=BaseFilter(blank, index), states=states)
        members.append(RawUnitsForecaster(network, ones, ones, ones[: len(index)], ones[: len(index)]))
    recent = None
    if meta.recent_best:
        r = meta.recent_best
        recent = RecentBestModule([blank] * len(r["candidates"]), list(meta.horizons), int(r["history"]),
                                  int(r["used"]), np.zeros(shape, int), index, channels,
                                  StateRule.from_dict(rule) if rule else None)
    model = DeployedForecaster(LSTMEnsemble(members), BaseFilter(blank, index), np.zeros(shape, int), recent)
    model.load_state_dict(weights)
    return model.eval()
