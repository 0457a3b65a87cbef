"""Reading the composed configuration (params.yaml) and locating the repository.

conf/ is the single source of configuration; params.yaml is its composition (DVC's Hydra
composition writes it on `dvc exp run`, `make params` on demand). Stages read params.yaml
only, so that `dvc repro` is exact and `dvc exp run -S key=value` reaches them.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PARAMS_FILE = "params.yaml"


def repo_root(start: Path | None = None) -> Path:
    """The folder holding dvc.yaml, searched upwards from `start` (default: cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists():
            return folder
    raise FileNotFoundError(f"no dvc.yaml in {here} or any parent: run from inside the repository")


def origin_root(start: Path | None = None) -> Path:
    """The user's repository, also from inside a queued experiment's copy under .dvc/tmp/exps."""
    root = repo_root(start)
    parts = root.parts
    for i in range(len(parts) - 2):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return root


def load_params(path: str | Path | None = None, check: bool = True) -> DictConfig:
    """Load params.yaml (or `path`) as a read-only DictConfig, with a clear error if absent;
    every knob with a physical range is checked (pipeline/core/config_checks.py)."""
    file = Path(path) if path else repo_root() / PARAMS_FILE
    if not file.exists():
        raise FileNotFoundError(f"{file} not found: compose it from conf/ with `make params`")
    cfg = OmegaConf.load(file)
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"{file}: expected a mapping at the top level")
    OmegaConf.set_readonly(cfg, True)
    if check:
        from pipeline.core.config_checks import check_config

        check_config(cfg, source=file.name if file.name == PARAMS_FILE else str(file))
    return cfg


def require(cfg: DictConfig, key: str, source: str = PARAMS_FILE):
    """cfg[key] (dotted), or an error naming the missing key and the file it should be in."""
    value = OmegaConf.select(cfg, key, throw_on_missing=True)
    if value is None:
        raise KeyError(f"{source}: missing config key '{key}' (define it under conf/)")
    return value
