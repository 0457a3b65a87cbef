"""Every section of params.yaml with its schema, to check a whole params file at once:

    python -m pipeline.core.settings.every [params.yaml] [Hydra overrides]

Stages import only the schema files of the sections they read (their SETTINGS), so that editing
one group's schema reruns only the stages reading that group; the tests check that those
SETTINGS name every section dvc.yaml says a stage reads, and that SECTIONS covers params.yaml.
"""
from __future__ import annotations

import sys

from pipeline.core.settings import (costs, data_fault, data_inventory, data_line, data_prices, live, model_fault,
                                    model_inventory, model_process, optimize, replan, run, serve, solver, sweep, tracking,
                                    trainer)

SECTIONS = {
    "data.fault": data_fault.DataFault, "data.line": data_line.DataLine,
    "data.inventory": data_inventory.DataInventory, "data.prices": data_prices.DataPrices,
    "model.fault": model_fault.ModelFault, "model.process": model_process.ModelProcess,
    "model.inventory": model_inventory.ModelInventory, "trainer": trainer.Trainer,
    "optimize": optimize.Optimize, "costs": costs.Costs, "solver": solver.Solver, "sweep": sweep.Sweep,
    "tracking": tracking.Tracking, "serve": serve.Serve, "live": live.Live, "replan": replan.Replan,
    "seed": run.Seed, "paths": run.Paths,
}


def main(argv: list[str]) -> None:
    from pipeline.core.config import load_params

    path = argv[0] if argv and argv[0].endswith((".yaml", ".yml")) else None
    load_params(path, SECTIONS, argv[1:] if path else argv)
    print(f"{path or 'params.yaml'}: every setting within its schema")


if __name__ == "__main__":
    from pipeline.core.cli import run_stage

    run_stage("settings", lambda: main(sys.argv[1:]))
