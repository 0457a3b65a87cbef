"""The fault DNN as a LightningModule (the template of pipeline/core/lightning.py): binary
cross-entropy on logits and Adam from conf, per-epoch loss/accuracy/AUC history for the study's
Fig. 3 (torchmetrics aggregation), optional MILP-aware penalties."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torchmetrics import CatMetric, MeanMetric

from pipeline.core.lightning import TrainingModule
from pipeline.fault.stability import l1_penalty, stability_penalty


class MilpAwarePenalty(nn.Module):
    """ReLU-stability penalty over the optimiser's box (scaled inputs) plus L1 on the weights,
    weighted as conf `model.fault.milp_aware` says (Xiao et al. 2019)."""

    def __init__(self, box_low: np.ndarray, box_high: np.ndarray, stability_weight: float, l1_weight: float):
        super().__init__()
        self.register_buffer("box_low", torch.as_tensor(box_low))
        self.register_buffer("box_high", torch.as_tensor(box_high))
        self.stability_weight, self.l1_weight = float(stability_weight), float(l1_weight)

    def forward(self, network: nn.Module) -> dict[str, torch.Tensor]:
        return {"stability_penalty": stability_penalty(network, self.box_low, self.box_high),
                "l1": l1_penalty(network)}


class FaultClassifier(TrainingModule):
    def __init__(self, network: nn.Module, loss: nn.Module, optimizer: Callable, scheduler: Callable | None = None,
                 penalty: MilpAwarePenalty | None = None):
        super().__init__(network, loss, optimizer, scheduler)
        self.penalty = penalty
        self.history: list[dict[str, float]] = []
        self.epoch_metrics.update({f"{stage}_accuracy": MeanMetric() for stage in ("train", "val")})
        self.val_logits, self.val_labels = CatMetric(), CatMetric()

    def on_fit_start(self) -> None:
        # float64 sums, as the per-epoch history (reports/fault/history.csv) has always been
        # computed; set here because the Trainer casts the module (metrics too) to float32 first
        for metric in self.epoch_metrics.values():
            metric.set_dtype(torch.float64)

    @property
    def net(self) -> nn.Module:
        """The network itself (what is exported and embedded)."""
        return self.network

    def _tally(self, split: str, logits: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> None:
        self.epoch_metrics[f"{split}_loss"].update(loss, len(y))
        self.epoch_metrics[f"{split}_accuracy"].update(((logits >= 0).float() == y).flatten())

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self._tally("train", logits.detach(), y, loss.detach())
        if self.penalty is None:
            return loss
        terms = self.penalty(self.network)
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, on_step=False, on_epoch=True)
        return (loss + self.penalty.stability_weight * terms["stability_penalty"]
                + self.penalty.l1_weight * terms["l1"])

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self._tally("val", logits, y, self.loss(logits, y))
        self.val_logits.update(logits.squeeze(1))
        self.val_labels.update(y.squeeze(1))

    def _epoch(self, split: str) -> tuple[float, float]:
        loss, accuracy = self.epoch_metrics[f"{split}_loss"], self.epoch_metrics[f"{split}_accuracy"]
        values = float(loss.compute()), float(accuracy.compute())
        loss.reset()
        accuracy.reset()
        return values

    def on_validation_epoch_end(self) -> None:
        loss, accuracy = self._epoch("val")
        logits, y = self.val_logits.compute().cpu().numpy(), self.val_labels.compute().cpu().numpy()
        # sklearn, not torchmetrics' BinaryAUROC: that one computes in float32 (the 7th digit moves)
        auc = roc_auc_score(y, logits) if len(np.unique(y)) == 2 else float("nan")
        self._val_last = {"val/loss": loss, "val/accuracy": accuracy, "val/auc": float(auc)}
        self.log_dict(self._val_last)
        self.val_logits.reset()
        self.val_labels.reset()

    def on_train_epoch_end(self) -> None:
        loss, accuracy = self._epoch("train")
        row = {"epoch": self.current_epoch, "train/loss": loss, "train/accuracy": accuracy,
               **getattr(self, "_val_last", {})}
        self.log_dict({"train/loss": row["train/loss"], "train/accuracy": row["train/accuracy"]})
        self.history.append(row)
