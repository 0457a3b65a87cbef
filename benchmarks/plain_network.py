"""Fault networks that were not trained MILP-aware, for benchmarks/optimizer.py.

- `train_stage_plain`: our own fault stage with the ReLU-stability penalty off
  (model.fault.milp_aware.enabled=false), on the generated log of conf/.
- `train_outside`: what a user outside the project does: plain torch, min-max scaled inputs,
  BCE on logits, Adam, 150 epochs, `torch.onnx.export` with no metadata and a fixed batch of
  one, then the sidecar YAML the optimiser reads beside it (docs/fault.md).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from pipeline.contracts.fault_log import FEATURES, LABEL, LOG_FILE, UNITS
from pipeline.contracts.fault_model import ONNX_FILE


def train_stage_plain(scratch: Path) -> Path:
    from fault_common import isolated_tracking, prepared

    from pipeline.fault.train import train

    isolated_tracking(scratch)
    cfg = prepared(scratch, ["model.fault.milp_aware.enabled=false"])
    train(cfg)
    out = scratch.parent / "stage_plain.onnx"
    shutil.copy(Path(cfg.paths.models) / ONNX_FILE, out)
    return out


def train_outside(scratch: Path, data_dir: Path, epochs: int = 150, seed: int = 1,
                  hidden: tuple[int, ...] = (64, 32), name: str = "outside_plain") -> Path:
    """A plainly trained 6-<hidden>-1 network and its sidecar YAML; returns the ONNX path."""
    scratch.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    log = pd.read_parquet(data_dir / LOG_FILE)
    raw = log[FEATURES].to_numpy(float)
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    x = torch.from_numpy(((raw - lo) / (hi - lo)).astype(np.float32))
    y = torch.from_numpy(log[LABEL].to_numpy(np.float32))[:, None]
    layers, width = [], 6
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            batch = order[i:i + 128]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    path = scratch.parent / f"{name}.onnx"
    torch.onnx.export(net.eval(), torch.zeros(1, 6), str(path), input_names=["input"], output_names=["output"],
                      dynamo=False)
    sidecar = {"inputs": list(FEATURES), "units": list(UNITS), "output": "logit",
               "scaling": {"kind": "minmax", "offset": lo.tolist(), "factor": (hi - lo).tolist()},
               "train_min": lo.tolist(), "train_max": hi.tolist()}
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar, sort_keys=False))
    return path
