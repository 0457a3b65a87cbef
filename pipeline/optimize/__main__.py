"""DVC stage `optimize`: the 24-hour schedule MILP with the fault DNN embedded.

A Hydra app whose primary config is params.yaml (the composition of conf/), so
    python -m pipeline.optimize                                   # what `dvc repro` runs
    python -m pipeline.optimize costs.maintenance_scale=1.25      # one variant
    python -m pipeline.optimize -m costs.maintenance_scale=0.5,1.0,1.5   # a sweep
all work. A single run writes reports/optimize/ and logs one MLflow run (experiment
tablet/optimize); each multirun job writes the same files into its Hydra output dir and
leaves MLflow to the sweep's callback (one writer for the SQLite store).

The config is checked first (pipeline/core/config_checks.py, with the solver names of solve.py).
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
from pipeline.core.config import repo_root
from pipeline.core.config_checks import check_config
from pipeline.core.processes import stop_on_signals
from pipeline.core.staging import staged_dir
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.optimize.run import optimize, prepare
from pipeline.optimize.solve import SOLVERS, NoScheduleFoundError, ScheduleSolver, SolverUnavailableError
from pipeline.optimize.worker import reused_plan
from pipeline.optimize.outputs import start_from_table, write_outputs

log = logging.getLogger("pipeline.optimize")

# Hydra's own files stay out of the repository root: no .hydra/ folder and no log file for
# single runs, and multirun jobs under multirun/optimize (git-ignored) unless the caller says otherwise.
_DEFAULTS = {"hydra.run.dir": ".", "hydra.output_subdir": "null", "hydra/job_logging": "stdout",
             "hydra.sweep.dir": "multirun/optimize/${now:%Y-%m-%d_%H-%M-%S}"}


def _with_defaults(argv: list[str], conf: Path) -> list[str]:
    """Our Hydra defaults, conf/ on the search path, and config groups chosen as the README
    writes them (`solver=gurobi`, `data/prices=caiso`): params.yaml has no defaults list, so
    Hydra needs them appended (`+solver=gurobi`, merged over params.yaml's `solver`)."""
    flags, overrides = _split(argv)
    overrides = [_as_group_choice(a, conf) for a in overrides]
    given = {a.split("=", 1)[0].lstrip("+~") for a in overrides}
    defaults = {**_DEFAULTS, "hydra.searchpath": f"[file://{conf}]"}
    return flags + overrides + [f"{k}={v}" for k, v in defaults.items() if k not in given]


_VALUE_FLAGS = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--cfg", "-c",
                "--package", "-p", "--info", "-i", "--experimental-rerun"}


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags (with their values) and the overrides, so the overrides can all go last
    (argparse takes no positional arguments between flags)."""
    flags, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-"):
            flags.append(arg)
            if arg in _VALUE_FLAGS and i + 1 < len(argv) and "=" not in argv[i + 1] and not argv[i + 1].startswith("-"):
                flags.append(argv[i + 1])
                i += 1
        else:
            overrides.append(arg)
        i += 1
    return flags, overrides


def _as_group_choice(arg: str, conf: Path) -> str:
    """`group=option[,option...]` -> `+group=...` when every option is a file of conf/<group>/."""
    if "=" not in arg or arg.startswith(("+", "~", "-", "hydra")):  # hydra/...: Hydra's own defaults list
        return arg
    group, options = arg.split("=", 1)
    names = options.split(",")
    if (conf / group).is_dir() and all((conf / group / f"{name}.yaml").is_file() for name in names):
        return f"+{arg}"
    return arg


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


@hydra.main(version_base="1.3", config_path="../..", config_name="params")
def main(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:  # a job's error reaches Hydra, which records it for the sweep
        check_config(cfg, choices={"solver.name": SOLVERS}, source="optimize config")
        worker = reused_plan(cfg, lambda c: {"plan": prepare(c), "solver": ScheduleSolver(c.solver, c.optimize.search)})
        table, metrics = optimize(worker["plan"], cfg, worker["solver"], start=worker["last"])
        worker["last"] = start_from_table(table)
        write_outputs(table, metrics, Path(hc.runtime.output_dir))
        return
    with cli.expected_errors("optimize", EXPECTED):
        single_run(cfg)


def single_run(cfg: DictConfig) -> None:
    check_config(cfg, choices={"solver.name": SOLVERS}, source="optimize config")
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
    sys.argv = [sys.argv[0], *_with_defaults(cli.take_debug_flag(sys.argv[1:]), root / "conf")]
    stop_on_signals()
    main()
