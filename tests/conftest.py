"""Shared fixtures: an isolated MLflow store and tiny composed configurations."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import load_params

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _mlflow_store(tmp_path_factory):
    """Every test logs to a throwaway SQLite store, never to the user's mlflow.db."""
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


def make_cfg(tmp_path: Path, overrides: list[str] | None = None):
    """params.yaml composed from conf/ with +experiment=tiny and `overrides`, with every
    path (data, models, reports) inside tmp_path. Returns the read-only DictConfig."""
    out = tmp_path / "params.yaml"
    compose(["+experiment=tiny", *(overrides or [])], output=out, root=ROOT)
    cfg = OmegaConf.load(out)
    for key in ("data", "models", "reports"):
        cfg.paths[key] = str(tmp_path / key)
    OmegaConf.save(cfg, out)
    return load_params(out)


@pytest.fixture
def tiny_cfg(tmp_path):
    return make_cfg(tmp_path)


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data, or a skip that says why."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data file {path} not present (../shared/data is optional)")
    return path
