"""A SIGTERM that Lightning's own handler takes first (it runs before the stage's, and it is the
only one that acts when the stage's waits for a store write to finish) stops the stage as the
stage's own handler does: Interrupted, never Lightning's SystemExit, which would exit 0."""
from __future__ import annotations

import os
import signal

import mlflow
import pytorch_lightning as pl
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from pipeline.core.config import load_params
from pipeline.core.lightning import fit_best
from pipeline.core.processes import Interrupted


class _SignalledAtStepTwo(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, index):
        if index == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # the process has no handler of its own: Lightning's alone
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, index):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _Data(pl.LightningDataModule):
    def _loader(self):
        return DataLoader(TensorDataset(torch.randn(64, 2), torch.randn(64, 1)), batch_size=8)

    def train_dataloader(self):
        return self._loader()

    def val_dataloader(self):
        return self._loader()


def test_lightnings_sigterm_stop_becomes_the_stages_interruption(tmp_path):
    cfg = OmegaConf.merge(load_params(), {"paths": {"models": str(tmp_path)},
                                          "trainer": {"enable_progress_bar": False, "default_root_dir": str(tmp_path)}})
    model_cfg = OmegaConf.create({"max_epochs": 3, "patience": 3})
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with mlflow.start_run() as run, pytest.raises(Interrupted) as stopped:
            fit_best(cfg, model_cfg, run, _SignalledAtStepTwo(), _Data())
        assert stopped.value.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # a second signal waits for the cleanup
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
