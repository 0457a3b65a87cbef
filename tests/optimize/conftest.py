"""Fixtures of the optimiser tests: a stand-in fault network with the fault DNN's ONNX
contract (fitted quickly to the generator's smooth failure surface), a small price file,
and tiny configurations whose paths point at them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from pipeline.core.config import load_params
from tests.optimize.example_network import build
from tests.conftest import make_cfg

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fault_onnx(tmp_path_factory) -> Path:
    """models/fault_dnn.onnx stand-in: 6-64-32-1 ReLU, fitted for a few hundred steps."""
    torch.set_num_threads(1)
    base = load_params(ROOT / "params.yaml")
    path = tmp_path_factory.mktemp("net") / "fault_dnn.onnx"
    return build(path, base.data.fault, "fitted", seed=0, n_samples=6000, steps=400)


def write_prices(path: Path, prices: list[float], start: str = "2021-07-01 00:00:00") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = pd.date_range(pd.Timestamp(start), periods=len(prices), freq="h")
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "price_usd_per_mwh": prices}).to_csv(path, index=False)
    return path


@pytest.fixture
def opt_cfg(tmp_path, fault_onnx):
    """A tiny (3-hour) configuration with the stand-in network and a price file in tmp_path;
    call it with extra overrides to get another."""
    def make(overrides: list[str] | None = None, prices: list[float] | None = None):
        cfg = make_cfg(tmp_path, overrides)
        cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        models = Path(cfg.paths.models)
        models.mkdir(parents=True, exist_ok=True)
        target = models / cfg.optimize.network_file
        if not target.exists():
            target.write_bytes(fault_onnx.read_bytes())
        hours = int(cfg.optimize.horizon_hours)
        profile = list(cfg.data.prices.profile_usd_per_mwh)
        write_prices(Path(cfg.paths.data) / cfg.optimize.prices_file,
                     prices if prices is not None else [profile[h % 24] for h in range(hours)])
        return cfg

    return make


@pytest.fixture
def raw_grid() -> np.ndarray:
    rng = np.random.default_rng(1)
    n = 400
    return np.column_stack([np.full(n, 62.0), rng.uniform(18, 30, n), np.full(n, 758.0), np.full(n, 0.3),
                            rng.uniform(30, 65, n), rng.integers(0, 7, n)])
