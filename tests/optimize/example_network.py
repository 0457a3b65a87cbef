"""Stand-in fault networks for tests (tests/optimize) and benchmarks/optimizer.py, honouring the fault DNN's ONNX contract.

Until (or besides) the trained models/fault_dnn.onnx, the optimiser needs networks with the
same interface: input "x" [batch, 6] (min-max scaled), output "logit" [batch, 1], plain
Gemm/Relu layers and the metadata of pipeline/fault. Two kinds:
- `fitted`: a 6-64-32-1 ReLU net regressed (MSE, Adam) onto the data generator's true failure
  log-odds (pipeline/data/fault/generator.true_logit), i.e. a smooth, realistic surface;
- `random`: the same architecture with seeded random (Kaiming-uniform) weights, the hard case.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from pipeline.contracts.fault_log import FEATURES
from pipeline.contracts.fault_model import INPUT, OUTPUT, MinMaxScaling, metadata
from pipeline.core.onnx_io import export


def _net(hidden: tuple[int, ...], seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    width = len(FEATURES)
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def _sample_inputs(fault_cfg: DictConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Raw inputs spread like the generator's log (setpoint ranges, drifts, 0..max maintenance)."""
    proc = fault_cfg.process
    cols = [
        rng.normal(proc.pressure_kN.mean, proc.pressure_kN.drift_sd, n),
        rng.uniform(proc.temperature_C.setpoint_low, proc.temperature_C.setpoint_high, n),
        rng.normal(proc.speed_rpm.mean, proc.speed_rpm.drift_sd, n),
        np.maximum(rng.normal(proc.vibration_mm_s.mean, proc.vibration_mm_s.drift_sd, n), proc.vibration_mm_s.floor),
        rng.uniform(proc.humidity_pct.setpoint_low, proc.humidity_pct.setpoint_high, n),
        rng.integers(0, int(proc.maintenance.max_per_day) + 1, n).astype(float),
    ]
    return np.stack(cols, axis=1)


def build(path: str | Path, fault_cfg: DictConfig, kind: str = "fitted", seed: int = 0,
          hidden: tuple[int, ...] = (64, 32), n_samples: int = 20000, steps: int = 1500) -> Path:
    """Write a stand-in fault network to `path` (ONNX with the fault DNN's metadata)."""
    import pandas as pd

    from pipeline.data.fault.generator import true_logit

    rng = np.random.default_rng(seed)
    raw = _sample_inputs(fault_cfg, n_samples, rng)
    scaling = MinMaxScaling.fit(raw)
    scaled = scaling.apply(raw)
    net = _net(hidden, seed)
    if kind == "fitted":
        target = true_logit(pd.DataFrame(raw, columns=FEATURES), fault_cfg.truth).astype(np.float32)
        x, y = torch.from_numpy(scaled), torch.from_numpy(target[:, None])
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(steps):
            idx = torch.randint(0, len(x), (512,))
            loss = torch.nn.functional.mse_loss(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    elif kind != "random":
        raise ValueError(f"kind must be 'fitted' or 'random', got {kind!r}")
    meta = metadata(scaling, raw, {"stand_in": kind})
    return export(net, torch.zeros(1, len(FEATURES)), path, [INPUT], [OUTPUT], meta)
