"""Hydra callback that tracks any multirun of the optimiser in MLflow, whoever typed it.

Add it to a multirun with
  +hydra.callbacks.mlflow_sweep._target_=pipeline.sweep.callback.MlflowSweepCallback
Jobs (in joblib / submitit / Ray workers) only write a small marker file; the launching
process (on_multirun_end) reads every job folder and is the single MLflow writer.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.costs import scales_of
from pipeline.core.io import write_json
from pipeline.sweep.files import MARKER, PARENT_FILE, SUMMARY_DIR


def finish_sweep(cfg: DictConfig, sweep_dir: Path, started: float, parent_params: dict) -> dict:
    """Table + figures into <sweep_dir>/summary, then parent + children in MLflow."""
    # Imported here, not at the top: every job process unpickles this module, and should not
    # pay for importing mlflow and matplotlib.
    from pipeline.sweep.mlflow_log import log_sweep
    from pipeline.sweep.points import read_points
    from pipeline.sweep.summary import summarise

    points = read_points(sweep_dir, since=started - 1.0)
    summary = sweep_dir / SUMMARY_DIR
    summary_error = None
    try:
        summarise(points, cfg.sweep, summary, extra={"wall_s": time.time() - started})
    except ValueError as exc:  # a missing curve metric: still log every run, then report it
        summary_error = str(exc)
    parent = log_sweep(points, cfg, summary, started, parent_params)
    result = {"parent_run_id": parent, "points": len(points), "summary_error": summary_error}
    write_json(sweep_dir / PARENT_FILE, result)
    return result


class MlflowSweepCallback(Callback):
    def __init__(self) -> None:
        self.started = time.time()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """In the job's process: note the start, and run where the sweep was launched (the
        repository root), so params.yaml's relative paths resolve on a Ray or SLURM node too,
        whatever directory its worker was started from (the repository is on a shared file system)."""
        self.job_started = time.time()  # same process and instance as this job's on_job_end
        launched_from = OmegaConf.select(config, "hydra.runtime.cwd")
        if launched_from and not OmegaConf.select(config, "hydra.job.chdir", default=False):
            os.chdir(launched_from)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """In the job's process: record status, overrides and cost scales beside the job's outputs."""
        out = Path(config.hydra.runtime.output_dir)
        failed = job_return.status != JobStatus.COMPLETED
        costs = OmegaConf.select(config, "costs", default={}) or {}
        write_json(out / MARKER, {
            "job_num": int(config.hydra.job.num),
            "status": job_return.status.name,
            "overrides": list(job_return.overrides or []),
            "scales": scales_of(costs),
            "started": getattr(self, "job_started", None),
            "finished": time.time(),
            "error": repr(job_return._return_value)[:5000] if failed else "",
        })

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        launcher = OmegaConf.select(config, "hydra.launcher", default={}) or {}
        params = {"overrides": " ".join(OmegaConf.to_container(config.hydra.overrides.task)),
                  "launcher": str(launcher.get("_target_", "")).rsplit(".", 1)[-1],
                  "sweep_dir": str(sweep_dir)}
        if launcher.get("n_jobs") is not None:
            params["n_jobs"] = launcher.get("n_jobs")
        result = finish_sweep(config, sweep_dir, self.started, params)
        print(json.dumps(result))
