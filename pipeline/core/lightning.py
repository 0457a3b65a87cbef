"""The training template of the three models (fault, process, inventory).

- `TrainingModule`: a LightningModule that receives ready objects, built from the model's conf
  by hydra.utils.instantiate (`network`, `loss`, `optimizer` and `scheduler` with
  `_partial_: true`), as in lightning-hydra-template; epoch losses are torchmetrics MeanMetrics.
- `build_trainer` / `fit_best`: the Lightning Trainer of conf/trainer with the model's epochs,
  early stopping and a weights-only checkpoint, logging to the stage's MLflow run (never ./mlruns)
  and leaving that run open: the stage, not the Trainer, says when and how it ended.
The split is pipeline/core/split.py, the ONNX parity check pipeline/core/onnx_io.py, figures
pipeline/core/figures.py.
"""
from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import MLFlowLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import nn
from torchmetrics import MeanMetric

from pipeline.core.processes import stopping
from pipeline.core.staging import scratch
from pipeline.core.tracking import tracking_uri


class StageRunLogger(MLFlowLogger):
    """Lightning's MLflow logger on the stage's own run. Lightning ends the run it logs to when
    `fit` returns (FINISHED) or fails; the stage goes on evaluating and exporting after that, so
    a stage killed then would leave a run marked FINISHED. The stage's run is ended by the stage
    (pipeline/core/tracking.stage_run), never here."""

    def finalize(self, status: str = "success") -> None:
        if self._initialized and self._checkpoint_callback:
            self._scan_and_log_checkpoints(self._checkpoint_callback)


def build_trainer(cfg: DictConfig, model_cfg: DictConfig, run, checkpoint_dir: str | Path,
                  monitor: str = "val/loss", mode: str = "min", **overrides) -> pl.Trainer:
    """Trainer from conf/trainer; epochs and patience from the model's config.

    `run` is the active MLflow run: Lightning logs into it rather than opening another.
    Checkpoints are weights-only (no pickled objects for other code to load).
    """
    logger = StageRunLogger(tracking_uri=tracking_uri(cfg), run_id=run.info.run_id)
    callbacks = [
        EarlyStopping(monitor=monitor, mode=mode, patience=int(model_cfg.patience)),
        ModelCheckpoint(dirpath=str(checkpoint_dir), filename="best", monitor=monitor, mode=mode,
                        save_top_k=1, save_weights_only=True),
    ]
    return instantiate(cfg.trainer, max_epochs=int(model_cfg.max_epochs), logger=logger,
                       callbacks=callbacks, **overrides)


def fit_best(cfg: DictConfig, model_cfg: DictConfig, run, module: pl.LightningModule,
             datamodule: pl.LightningDataModule, **overrides) -> tuple[pl.Trainer, float]:
    """Fit with early stopping, then load the best epoch's weights into `module`.

    The checkpoint lives in a fresh folder under the stage's scratch (pipeline/core/staging.py):
    no earlier run's file can shadow it, none is left behind, and a killed stage's folder goes
    with its staging folder. Returns the trainer (epochs, best score) and the seconds `fit` took."""
    with tempfile.TemporaryDirectory(prefix="ckpt_", dir=scratch(cfg)) as checkpoint_dir:
        trainer = build_trainer(cfg, model_cfg, run, checkpoint_dir, **overrides)
        start = time.perf_counter()
        try:
            trainer.fit(module, datamodule=datamodule)
        except SIGTERMException:
            # Lightning's own SIGTERM handler runs before the stage's and stops at the next batch
            # (with a SystemExit that would exit 0) when the stage's is deferred by a store write
            raise stopping(signal.SIGTERM) from None
        seconds = time.perf_counter() - start
        best = trainer.checkpoint_callback.best_model_path
        if best:
            module.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    return trainer, seconds


def seed_everything(seed: int) -> None:
    pl.seed_everything(int(seed), workers=True, verbose=False)


class TrainingModule(pl.LightningModule):
    """Network, loss, optimizer factory and optional LR-scheduler factory, given ready-made.

    `log_loss` accumulates each stage's loss over the epoch (weighted by batch size) in a
    torchmetrics MeanMetric and logs `<stage>/loss`, which early stopping and the checkpoint
    watch (`monitor`)."""

    def __init__(self, network: nn.Module, loss: nn.Module, optimizer: Callable, scheduler: Callable | None = None,
                 monitor: str = "val/loss"):
        super().__init__()
        self.network, self.loss = network, loss
        self.optimizer_factory, self.scheduler_factory, self.monitor = optimizer, scheduler, monitor
        # keyed "<stage>_<name>" (a ModuleDict key may not be "train": nn.Module.train exists)
        self.epoch_metrics = nn.ModuleDict({f"{stage}_loss": MeanMetric() for stage in ("train", "val")})

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.network(*inputs)

    def log_loss(self, stage: str, loss: torch.Tensor, batch_size: int, prog_bar: bool = False) -> None:
        metric = self.epoch_metrics[f"{stage}_loss"]
        metric.update(loss.detach(), batch_size)
        self.log(f"{stage}/loss", metric, on_step=False, on_epoch=True, prog_bar=prog_bar, batch_size=batch_size)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "monitor": self.monitor}}


def training_parts(model_cfg: DictConfig) -> dict:
    """loss, optimizer factory and scheduler factory (None when `scheduler` is absent or null)
    from a model's conf, ready for a TrainingModule."""
    scheduler = model_cfg.get("scheduler")
    return {"loss": instantiate(model_cfg.loss), "optimizer": instantiate(model_cfg.optimizer),
            "scheduler": instantiate(scheduler) if scheduler is not None else None}
