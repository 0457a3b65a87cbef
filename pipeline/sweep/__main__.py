"""DVC stage `sweep`: run the conf/sweep grid as a Hydra multirun of pipeline.optimize and
gather it into reports/sweep/ (points.csv, curves_<cost>.csv, <cost>.png, metrics.json).

The multirun carries MlflowSweepCallback, which logs one parent and one child per point.

The sweep folder (sweep.dir) is emptied before each run, but only when the sweep made it: it
holds the sweep's owner file, or it lies under the repository's multirun/ (pipeline/core/staging
.clear_owned_dir); any other folder, `.` and the repository itself are refused. reports/sweep/ is
replaced only when every point ran: a failed sweep's table stays in <sweep.dir>/summary.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core.cli import run_stage, stage_parser
from pipeline.core.config import PARAMS_FILE, load_params, repo_root
from pipeline.core.settings import costs, optimize, run, solver, sweep, tracking
from pipeline.core.staging import clear_owned_dir, staged_dir
from pipeline.core.tracking import record_finished, tracking_uri
from pipeline.sweep.callback import finish_sweep
from pipeline.sweep.files import PARENT_FILE, SUMMARY_DIR
from pipeline.sweep.grid import multirun_command
from pipeline.sweep.points import read_points

# The sections this stage reads, checked as it loads them (each job checks the optimiser's again).
SETTINGS = {"paths": run.Paths, "tracking": tracking.Tracking, "optimize": optimize.Optimize, "costs": costs.Costs,
            "solver": solver.Solver, "sweep": sweep.Sweep}


def _under(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def run_sweep(cfg: DictConfig, params_file: Path | None, root: Path, app: str = "pipeline.optimize") -> dict:
    """Launch the multirun, make sure MLflow has it even if a job failed, copy the summary.
    `params_file` None: `cfg` is written into the sweep folder for the jobs to read."""
    sweep_dir = _under(root, cfg.sweep.dir)
    clear_owned_dir(sweep_dir, "sweep", root, f"sweep.dir={cfg.sweep.dir}")  # stale job folders would pass for this run's
    if params_file is None:  # composed with the command line's overrides: the jobs read what the sweep read
        params_file = sweep_dir / PARAMS_FILE
        OmegaConf.save(cfg, params_file)
    started = time.time()
    cmd = multirun_command(cfg, params_file, sweep_dir, root / "conf", app)
    print("sweep:", " ".join(cmd[1:]))
    launched = subprocess.run(cmd, cwd=root)
    if not (sweep_dir / PARENT_FILE).exists():
        # Hydra raises on the first failed job before on_multirun_end: log what the jobs left.
        finish_sweep(cfg, sweep_dir, started, {"overrides": " ".join(cmd[4:]), "sweep_dir": str(sweep_dir),
                                               "launcher": str(cfg.sweep.launcher)})
    failed = [p for p in read_points(sweep_dir, since=started - 1.0) if p.status != "COMPLETED"]
    if launched.returncode != 0 or failed:
        details = "; ".join(f"job {p.job_num} ({' '.join(p.overrides)}): {p.status} {p.error[:300]}" for p in failed)
        raise SystemExit(f"sweep: multirun exited {launched.returncode}; {len(failed)} failed point(s). {details} "
                         f"(table and figures of what ran: {sweep_dir / SUMMARY_DIR}; reports/sweep/ left as it was)")
    parent = json.loads((sweep_dir / PARENT_FILE).read_text())
    if parent.get("summary_error"):
        raise SystemExit(f"sweep: every point ran, but its summary failed: {parent['summary_error']}")
    reports = _under(root, cfg.paths.reports) / "sweep"
    with staged_dir(reports, whole=True) as folder:  # swapped in whole: no earlier run's file survives
        if parent.get("parent_run_id"):  # marked FAILED after all if reports/sweep/ cannot take the summary
            record_finished(parent["parent_run_id"], tracking_uri(cfg))
        shutil.copytree(sweep_dir / SUMMARY_DIR, folder, dirs_exist_ok=True)
    return json.loads((reports / "metrics.json").read_text())


def main() -> None:
    args = stage_parser(__doc__.splitlines()[0]).parse_args()
    root = repo_root()
    params_file = Path(args.params) if args.params else root / PARAMS_FILE
    cfg = load_params(params_file, SETTINGS, args.overrides)
    metrics = run_sweep(cfg, None if args.overrides else params_file, root)
    print("sweep: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    if metrics.get("not_proven"):
        print(f"sweep: WARNING {metrics['not_proven']} point(s) were not proven optimal (time limit): left out "
              "of the curves and drawn as crosses; see solve.* in points.csv")


if __name__ == "__main__":
    run_stage("sweep", main)
