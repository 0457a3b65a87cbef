"""Shared by the fault benchmarks: the stage on a composed config, in a scratch folder."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import load_params, repo_root
from pipeline.data.fault import prepare


def scratch_cfg(scratch: Path, overrides: list[str]):
    """conf/ composed with `overrides`, every output path inside `scratch` (DVC outputs untouched)."""
    scratch.mkdir(parents=True, exist_ok=True)
    out = compose(overrides, output=scratch / "params.yaml", root=repo_root())
    cfg = OmegaConf.load(out)
    for key in ("data", "models", "reports"):
        cfg.paths[key] = str(scratch / key)
    OmegaConf.save(cfg, out)
    return load_params(out)


def prepared(scratch: Path, overrides: list[str]):
    cfg = scratch_cfg(scratch, overrides)
    prepare(cfg, Path(cfg.paths.data) / "fault", Path(cfg.paths.reports) / "data")
    return cfg


def machine() -> dict:
    """What the figures were measured on, including how busy it was."""
    return {"cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0], "platform": platform.platform(),
            "python": platform.python_version()}


def isolated_tracking(scratch: Path) -> None:
    """Benchmarks log to their own store unless MLFLOW_TRACKING_URI says otherwise."""
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{scratch / 'mlflow.db'}")
