"""Reading the composed configuration (params.yaml) and locating the repository.

conf/ is the single source of configuration; params.yaml is its composition (DVC's Hydra
composition writes it on `dvc exp run`, `make params` on demand). Stages read params.yaml
only, so that `dvc repro` is exact and `dvc exp run -S key=value` reaches them; a stage's
command line overrides keys or chooses group options on top of it (pipeline/core/overrides.py),
and each stage checks the sections it reads against their schemas (pipeline/core/settings/).
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from pipeline.core.safe_yaml import YamlBounds, checked_text

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


def conf_dir() -> Path:
    """conf/ of the repository the user works in (of this package's checkout outside one)."""
    try:
        return repo_root() / "conf"
    except FileNotFoundError:
        return Path(__file__).resolve().parents[2] / "conf"


PARAMS_BOUNDS = YamlBounds("a params file", 1_000_000, max_nodes=200_000, max_depth=30,
                           usual_size="some 20 kB", usual_nodes="about 2,000")


def read_params_file(file: Path) -> DictConfig:
    """params.yaml (or a --params file) as OmegaConf reads it, once its size, nesting and aliases
    are within PARAMS_BOUNDS (pipeline/core/safe_yaml.py: 500 bytes of nested aliases took 1.2 GB
    and a minute before OmegaConf gave up)."""
    if not file.exists():
        raise FileNotFoundError(f"{file} not found: compose it from conf/ with `make params`")
    text = checked_text(file, PARAMS_BOUNDS)
    try:
        cfg = OmegaConf.load(io.StringIO(text))
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"{file}: expected a mapping at the top level")
    return cfg


def load_params(path: str | Path | None = None, settings: Mapping[str, Any] | None = None,
                overrides: Sequence[str] = ()) -> DictConfig:
    """params.yaml (or `path`) as a read-only DictConfig, with Hydra `overrides` applied
    (pipeline/core/overrides.py) and the `settings` sections (dotted key -> schema of
    pipeline/core/settings) checked: one line per setting their schema refuses."""
    file = Path(path) if path else repo_root() / PARAMS_FILE
    if overrides:
        from pipeline.core.overrides import compose_overrides

        cfg = compose_overrides(file, conf_dir(), overrides)
    else:
        cfg = read_params_file(file)
    OmegaConf.set_readonly(cfg, True)
    if settings:
        from pipeline.core.settings.schema import check

        source = file.name if file.name == PARAMS_FILE else str(file)
        check(cfg, settings, source=f"{source} + overrides" if overrides else source)
    return cfg


def require(cfg: DictConfig, key: str, source: str = PARAMS_FILE):
    """cfg[key] (dotted), or an error naming the missing key and the file it should be in."""
    value = OmegaConf.select(cfg, key, throw_on_missing=True)
    if value is None:
        raise KeyError(f"{source}: missing config key '{key}' (define it under conf/)")
    return value
