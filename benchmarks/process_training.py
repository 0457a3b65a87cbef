"""Benchmark: training throughput of the process LSTM, and Lightning's overhead against a
bare PyTorch loop on the same network, data loader, loss, optimiser and number of epochs.

    python benchmarks/process_training.py [--epochs 3] [--repeats 3]

Each loop runs `repeats` times, interleaved (bare, minimal Trainer, configured Trainer, bare, ...)
so that a busy neighbour on the shared machine hits all of them alike; the overhead is taken
between medians. "minimal" is a Trainer with logging, checkpoints and progress bar off;
"configured" is conf/trainer as the stage builds it (deterministic, progress bar), minus the
MLflow logger and checkpoints so that no files are written.

Uses data/line (run `python -m pipeline.data line` first) and conf's model.process.
Writes reports/bench/process_training.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.core.lightning import seed_everything, training_parts
from pipeline.process.data import FoldData, Windows, load_line, split_groups
from pipeline.process.model import LineForecaster, build_network
from pipeline.process.selection import folds


def bare_loop(dm: FoldData, network: torch.nn.Module, mc, epochs: int, cfg=None) -> float:
    loss_fn = instantiate(mc.loss)
    opt = instantiate(mc.optimizer)(network.parameters())
    train, val = dm.train_dataloader(), dm.val_dataloader()
    t0 = time.perf_counter()
    for _ in range(epochs):
        network.train()
        for x, y in train:
            opt.zero_grad()
            loss = loss_fn(network(x), y)
            loss.backward()
            opt.step()
        network.eval()
        with torch.no_grad():
            for x, y in val:
                loss_fn(network(x), y)
    return time.perf_counter() - t0


def lightning_minimal(dm: FoldData, network: torch.nn.Module, mc, epochs: int, cfg) -> float:
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    return _fit(trainer, dm, network, mc)


def lightning_configured(dm: FoldData, network: torch.nn.Module, mc, epochs: int, cfg) -> float:
    trainer = instantiate(cfg.trainer, max_epochs=epochs, logger=False, enable_checkpointing=False,
                          num_sanity_val_steps=0)
    return _fit(trainer, dm, network, mc)


def _fit(trainer: pl.Trainer, dm: FoldData, network: torch.nn.Module, mc) -> float:
    t0 = time.perf_counter()
    trainer.fit(LineForecaster(network, **training_parts(mc)), datamodule=dm)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = load_params()
    mc = cfg.model.process
    torch.set_num_threads(int(mc.torch_threads))
    # the configured Trainer switches this on process-wide; every loop runs with the same setting
    torch.use_deterministic_algorithms(bool(cfg.trainer.deterministic))
    data = load_line(Path(cfg.paths.data) / "line")
    windows = Windows(data, split_groups(data, mc.split, int(mc.select.time_blocks)), int(mc.lookback), list(mc.horizons))
    last = folds(windows.split.dev_groups, str(mc.select.cv))[-1]  # the data of one LSTM fold, as the stage trains it
    dm = FoldData(windows, *windows.fit_and_stop(last.fit, float(mc.select.early_stop_share), int(mc.stride)),
                  int(mc.batch_size))
    n_train = len(dm.train_ends)
    loops = {"bare_pytorch": bare_loop, "lightning_minimal": lightning_minimal,
             "lightning_configured": lightning_configured}
    times: dict[str, list[float]] = {name: [] for name in loops}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        for name, fn in loops.items():
            seed_everything(int(cfg.seed))
            network = build_network(mc, windows.x.shape[1], data.target_index)
            times[name].append(fn(dm, network, mc, args.epochs, cfg))
    median = {k: statistics.median(v) for k, v in times.items()}
    bare = median["bare_pytorch"]
    result = {"epochs": args.epochs, "repeats": args.repeats, "train_windows": n_train,
              "val_windows": len(dm.stop_ends), "batch_size": int(mc.batch_size),
              "hidden": int(mc.network.hidden), "lookback": int(mc.lookback), "inputs": int(windows.x.shape[1]),
              "threads": int(mc.torch_threads), "seconds": times, "median_seconds": median,
              "windows_per_s": {k: n_train * args.epochs / v for k, v in median.items()},
              "lightning_overhead": {k: median[k] / bare - 1.0 for k in median if k != "bare_pytorch"},
              "cpu_count": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    path = write_json(repo_root() / "reports" / "bench" / "process_training.json", result)
    overhead = ", ".join(f"{k} {v:+.1%}" for k, v in result["lightning_overhead"].items())
    print(f"median bare {bare:.2f} s; Lightning overhead: {overhead} -> {path}")


if __name__ == "__main__":
    main()
