"""The sweep grid of conf/sweep as Hydra overrides, and the multirun command that runs it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from omegaconf import DictConfig

from pipeline.contracts.costs import scale_key

CALLBACK = "pipeline.sweep.callback.MlflowSweepCallback"
# Launchers whose Hydra plugin comes with the optional cluster extra (`make cluster`).
CLUSTER_PLUGINS = {"ray": "hydra_plugins.hydra_ray_launcher", "slurm": "hydra_plugins.hydra_submitit_launcher",
                   "slurm_local": "hydra_plugins.hydra_submitit_launcher"}


def grid_override(costs: list[str], scales: list[float]) -> str:
    """One Hydra choice sweep over the one-at-a-time grid: each cost at each scale, the others
    at baseline. Dict values merge into `costs`, so the untouched scales keep their values. The
    scale keys are the cost contract's (pipeline/contracts/costs.py); an unknown cost is refused."""
    if not costs or not scales:
        raise ValueError("conf/sweep: `costs` and `scales` must both be non-empty lists")
    try:
        keys = [scale_key(str(c)) for c in costs]
    except ValueError as exc:
        raise ValueError(f"conf/sweep costs: {exc}") from None
    points = [f"{{{key}:{float(s)!r}}}" for key in keys for s in scales]
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
