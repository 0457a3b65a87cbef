"""The fault DNN as a LightningModule: binary cross-entropy on logits, Adam (from conf),
per-epoch loss/accuracy history for the study's Fig. 3, optional MILP-aware penalties."""
from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from sklearn.metrics import roc_auc_score
from torch.nn.functional import binary_cross_entropy_with_logits

from pipeline.fault.stability import l1_penalty, stability_penalty


class FaultClassifier(pl.LightningModule):
    def __init__(self, model_cfg: DictConfig, box_low: np.ndarray | None = None, box_high: np.ndarray | None = None):
        super().__init__()
        self.model_cfg = model_cfg
        self.net = instantiate(model_cfg.network)
        self.milp = model_cfg.milp_aware
        if self.milp.enabled and box_low is None:
            raise ValueError("milp_aware.enabled needs the stability box (scaled) for its penalty")
        self.register_buffer("box_low", torch.as_tensor(box_low if box_low is not None else np.zeros((1, 1))))
        self.register_buffer("box_high", torch.as_tensor(box_high if box_high is not None else np.zeros((1, 1))))
        self.history: list[dict[str, float]] = []
        self._sums = {"train": np.zeros(3), "val": np.zeros(3)}  # loss*n, correct, n
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _tally(self, split: str, logits: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> None:
        n = len(y)
        correct = ((logits >= 0).float() == y).sum().item()
        self._sums[split] += np.array([loss.item() * n, correct, n])

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = binary_cross_entropy_with_logits(logits, y)
        self._tally("train", logits.detach(), y, loss.detach())
        total = loss
        if self.milp.enabled:
            stab = stability_penalty(self.net, self.box_low, self.box_high)
            l1 = l1_penalty(self.net)
            total = loss + float(self.milp.stability_weight) * stab + float(self.milp.l1_weight) * l1
            self.log_dict({"train/stability_penalty": stab, "train/l1": l1}, on_step=False, on_epoch=True)
        return total

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = binary_cross_entropy_with_logits(logits, y)
        self._tally("val", logits, y, loss)
        self._val_outputs.append((logits.squeeze(1), y.squeeze(1)))

    def on_validation_epoch_end(self) -> None:
        loss_sum, correct, n = self._sums["val"]
        logits = torch.cat([o[0] for o in self._val_outputs]).cpu().numpy()
        y = torch.cat([o[1] for o in self._val_outputs]).cpu().numpy()
        auc = roc_auc_score(y, logits) if len(np.unique(y)) == 2 else float("nan")
        self._val_last = {"val/loss": loss_sum / n, "val/accuracy": correct / n, "val/auc": float(auc)}
        self.log_dict(self._val_last)
        self._sums["val"][:] = 0
        self._val_outputs.clear()

    def on_train_epoch_end(self) -> None:
        loss_sum, correct, n = self._sums["train"]
        row = {"epoch": self.current_epoch, "train/loss": loss_sum / n, "train/accuracy": correct / n,
               **getattr(self, "_val_last", {})}
        self.log_dict({"train/loss": row["train/loss"], "train/accuracy": row["train/accuracy"]})
        self.history.append(row)
        self._sums["train"][:] = 0

    def configure_optimizers(self):
        optimizer = instantiate(self.model_cfg.optimizer)(self.parameters())
        if self.model_cfg.scheduler is None:
            return optimizer
        scheduler = instantiate(self.model_cfg.scheduler)(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}
