"""The sweep grid of conf/sweep as Hydra overrides, and the multirun command that runs it."""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

CALLBACK = "pipeline.sweep.callback.MlflowSweepCallback"
# Launchers whose Hydra plugin comes with the optional cluster extra (`make cluster`).
CLUSTER_PLUGINS = {"ray": "hydra_plugins.hydra_ray_launcher", "slurm": "hydra_plugins.hydra_submitit_launcher",
                   "slurm_local": "hydra_plugins.hydra_submitit_launcher"}
SCALE_SUFFIX = "_scale"


def scale_key(cost: str) -> str:
    """The config key under `costs` that scales one cost (conf/costs)."""
    return f"{cost}{SCALE_SUFFIX}"


def scales_of(costs: Mapping) -> dict[str, float]:
    """{cost: scale} of every scale key in a `costs` config."""
    return {str(k)[: -len(SCALE_SUFFIX)]: float(v) for k, v in costs.items() if str(k).endswith(SCALE_SUFFIX)}


def grid_override(costs: list[str], scales: list[float]) -> str:
    """One Hydra choice sweep over the one-at-a-time grid: each cost at each scale, the others
    at baseline. Dict values merge into `costs`, so the untouched scales keep their values."""
    if not costs or not scales:
        raise ValueError("conf/sweep: `costs` and `scales` must both be non-empty lists")
    points = [f"{{{scale_key(c)}:{float(s)!r}}}" for c in costs for s in scales]
    return "costs=" + ",".join(points)


def check_launcher(name: str) -> None:
    """A one-line error for a launcher whose plugin is not installed (its name is checked by the
    sweep's schema, pipeline/core/settings/sweep.py, against conf/hydra/launcher)."""
    plugin = CLUSTER_PLUGINS.get(name)
    if plugin and importlib.util.find_spec(plugin) is None:
        raise ValueError(f"sweep.launcher={name!r} needs {plugin}, which is not installed: run `make cluster`")


def multirun_command(cfg: DictConfig, params_file: Path, sweep_dir: Path, conf_dir: Path,
                     app: str = "pipeline.optimize") -> list[str]:
    """`python -m <app> -m <grid>` with our launcher, sweep dir and the MLflow callback."""
    check_launcher(str(cfg.sweep.launcher))
    return [
        sys.executable, "-m", app, "-m",
        "--config-path", str(params_file.parent.resolve()), "--config-name", params_file.stem,
        grid_override(list(cfg.sweep.costs), list(cfg.sweep.scales)),
        f"hydra.searchpath=[file://{conf_dir.resolve()}]",
        f"hydra/launcher={cfg.sweep.launcher}",
        f"hydra.sweep.dir={sweep_dir.resolve()}",
        "hydra/job_logging=stdout",  # one line per message on stdout, no log file per job
        "hydra.output_subdir=.hydra",  # keep Hydra's record of each job's config and overrides
        f"++hydra.callbacks.mlflow_sweep._target_={CALLBACK}",  # ++: also if the app adds it itself
    ]
