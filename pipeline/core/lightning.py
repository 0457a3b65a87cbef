"""The Lightning Trainer every model uses: conf/trainer + the model's own epochs and callbacks,
logging to the stage's MLflow run (never to ./mlruns)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import MLFlowLogger

from pipeline.core.tracking import tracking_uri


def build_trainer(cfg: DictConfig, model_cfg: DictConfig, run, checkpoint_dir: str | Path,
                  monitor: str = "val/loss", mode: str = "min", **overrides) -> pl.Trainer:
    """Trainer from conf/trainer; epochs and patience from the model's config.

    `run` is the active MLflow run: Lightning logs into it rather than opening another.
    Checkpoints are weights-only (no pickled objects for other code to load).
    """
    logger = MLFlowLogger(tracking_uri=tracking_uri(cfg), run_id=run.info.run_id)
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

    The checkpoint lives in a temporary folder: no earlier run's file can shadow it and none
    is left behind. Returns the trainer (epochs, best score) and the seconds `fit` took."""
    with tempfile.TemporaryDirectory(prefix="ckpt_") as checkpoint_dir:
        trainer = build_trainer(cfg, model_cfg, run, checkpoint_dir, **overrides)
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        seconds = time.perf_counter() - start
        best = trainer.checkpoint_callback.best_model_path
        if best:
            module.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    return trainer, seconds


def seed_everything(seed: int) -> None:
    pl.seed_everything(int(seed), workers=True, verbose=False)
