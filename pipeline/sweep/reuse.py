"""Reuse a built model across the jobs of a multirun that differ only in objective coefficients.

Hydra's joblib launcher runs the jobs in worker processes that live for the whole sweep (2
workers for 15 points), so a model kept in the process is there for the worker's next job.
The optimiser can key its built schedule model (network loaded, bounds tightened, Pyomo model
built) on the configuration without the coefficients it sets with `set_costs`, plus the
contents of its input files; a job whose key matches only sets the costs and solves.

    schedule, hit = reused(reuse_key(cfg, exclude=["costs"], files=[onnx, prices]),
                           lambda: build_schedule_model(...))
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf

T = TypeVar("T")
_KEPT: dict[str, object] = {}  # one entry: a worker holds the model of its current sweep only


def _drop(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.get(part)
        if not isinstance(tree, dict):
            return
    tree.pop(leaf, None)


def reuse_key(cfg: DictConfig, exclude: Sequence[str], files: Sequence[str | Path] = ()) -> str:
    """sha256 of the resolved config without the `exclude` keys (dotted), and of each file's bytes."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    tree.pop("hydra", None)
    for key in exclude:
        _drop(tree, key)
    digest = hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode())
    for path in files:
        digest.update(str(path).encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def reused(key: str, build: Callable[[], T]) -> tuple[T, bool]:
    """The object kept under `key` in this process, or a fresh `build()` kept in its place."""
    if key in _KEPT:
        return _KEPT[key], True  # type: ignore[return-value]
    value = build()
    _KEPT.clear()
    _KEPT[key] = value
    return value, False
