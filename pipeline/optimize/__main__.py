"""DVC stage `optimize`: the 24-hour schedule MILP with the fault DNN embedded.

A Hydra app whose primary config is params.yaml (the composition of conf/) with every config
group choosable (pipeline/core/overrides.py), so
    python -m pipeline.optimize                                   # what `dvc repro` runs
    python -m pipeline.optimize costs.maintenance_scale=1.25      # one variant
    python -m pipeline.optimize solver=gurobi                     # another option of a group
    python -m pipeline.optimize -m costs.maintenance_scale=0.5,1.0,1.5   # a sweep
all work. A single run writes reports/optimize/ and logs one MLflow run (experiment
tablet/optimize); each multirun job writes the same files into its Hydra output dir and
leaves MLflow to the sweep's callback (one writer for the SQLite store).

The sections it reads are checked first against their schemas (pipeline/core/settings/).
A single run ends as every stage does (pipeline/core/cli.py): an expected error is one line and
exit 1 (`--debug` or PIPELINE_DEBUG=1 shows the traceback), SIGINT/SIGTERM exit 130/143 with
the MLflow run KILLED; its files are written aside and moved in after the run is logged.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from pipeline.core import cli
from pipeline.core.config import PARAMS_FILE, repo_root
from pipeline.core.overrides import PRIMARY, check_single_run, register
from pipeline.core.processes import stop_on_signals
from pipeline.core.settings import costs, solver, tracking
from pipeline.core.settings import optimize as optimize_settings
from pipeline.core.settings import run as run_settings
from pipeline.core.settings.schema import check
from pipeline.core.staging import staged_dir
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.optimize.run import optimize, prepare
from pipeline.optimize.solve import NoScheduleFoundError, ScheduleSolver, SolverUnavailableError
from pipeline.optimize.worker import reused_plan
from pipeline.optimize.outputs import start_from_table, write_outputs

log = logging.getLogger("pipeline.optimize")
# The sections this stage reads, checked as it loads them (each multirun job too).
SETTINGS = {"paths": run_settings.Paths, "tracking": tracking.Tracking, "optimize": optimize_settings.Optimize,
            "costs": costs.Costs, "solver": solver.Solver}


def _tracked_metrics(metrics: dict) -> dict:
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    solve = metrics["solve"]
    flat.update({f"solve.{k}": solve[k] for k in ("seconds", "nodes", "gap") if solve[k] is not None})
    flat["solve.optimal"] = float(solve["optimal"])
    flat["solve.time_limit_hit"] = float(solve["time_limit_hit"])
    flat.update({f"verification.{k}": v for k, v in metrics["verification"].items() if not isinstance(v, bool)})
    flat["model.total_binaries"] = metrics["model"]["total_binaries"]
    return flat


# Errors a user can act on (besides the ValueError family: config, data, infeasible instance).
EXPECTED = (SolverUnavailableError, NoScheduleFoundError)


@hydra.main(version_base="1.3", config_path=None, config_name=PRIMARY)
def main(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:  # a job's error reaches Hydra, which records it for the sweep
        check(cfg, SETTINGS, source="optimize config")
        worker = reused_plan(cfg, lambda c: {"plan": prepare(c), "solver": ScheduleSolver(c.solver, c.optimize.search)})
        table, metrics = optimize(worker["plan"], cfg, worker["solver"], start=worker["last"])
        worker["last"] = start_from_table(table)
        write_outputs(table, metrics, Path(hc.runtime.output_dir))
        return
    with cli.expected_errors("optimize", EXPECTED):
        single_run(cfg)


def single_run(cfg: DictConfig) -> None:
    check(cfg, SETTINGS, source="optimize config")
    schedule = prepare(cfg)
    table, metrics = optimize(schedule, cfg)
    with staged_dir(Path(cfg.paths.reports) / "optimize") as out_dir:
        files = write_outputs(table, metrics, out_dir)
        with stage_run("optimize", cfg, params={"optimize": cfg.optimize, "costs": cfg.costs, "solver": cfg.solver}):
            import mlflow

            log_metrics(_tracked_metrics(metrics), prefix="optimize/")
            for path in files.values():
                mlflow.log_artifact(str(path))
            for net in schedule.networks.values():  # every press's network
                mlflow.log_artifact(str(net.path), artifact_path="model")
    s = metrics["solve"]
    log.info("objective %.2f USD, %s, gap %.2e, %.1f s, %d nodes; verified (max |dp| %.1e, objective rel. %.1e)",
             metrics["objective"], s["status"], s["gap"], s["seconds"], s["nodes"],
             metrics["verification"]["max_p_error"], metrics["verification"]["objective_rel_error"])


if __name__ == "__main__":
    try:
        root = repo_root()
        os.chdir(root)  # params.yaml and the relative paths in it are the repository's
    except FileNotFoundError:
        root = Path.cwd()
    sys.argv = [sys.argv[0], *cli.take_debug_flag(sys.argv[1:])]
    with cli.expected_errors("optimize"):
        register(root / PARAMS_FILE, root / "conf")  # the primary config `stage` (pipeline/core/overrides.py)
        check_single_run(sys.argv[1:], root / PARAMS_FILE, root / "conf")
    stop_on_signals()
    main()
