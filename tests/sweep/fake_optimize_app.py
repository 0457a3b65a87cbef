"""A stand-in for pipeline.optimize in multirun mode: reads params.yaml (as --config-path /
--config-name), writes metrics.json + schedule.csv into its Hydra job folder, logs nothing.
Its objective parts are simple functions of the cost scales, so tests can check every number."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def objective_parts(costs: DictConfig) -> dict:
    m, t, h = float(costs.maintenance_scale), float(costs.temperature_scale), float(costs.humidity_scale)
    parts = {"maintenance_cost": 1000.0 * m, "energy_cost": 500.0 * t + 300.0 * h, "penalty": 50.0 / m}
    parts["objective"] = 10_000.0 - sum(parts.values())  # the real optimiser's metric names
    return parts


@hydra.main(version_base=None)
def main(cfg: DictConfig) -> float:
    out = Path(HydraConfig.get().runtime.output_dir)
    if float(cfg.costs.maintenance_scale) == float(os.environ.get("FAKE_FAIL_AT_MAINTENANCE", "nan")):
        raise RuntimeError("infeasible (on purpose)")
    time.sleep(float(os.environ.get("FAKE_SOLVE_S", "0.2")))
    parts = objective_parts(cfg.costs)
    (out / "metrics.json").write_text(json.dumps({**parts, "solve": {"seconds": 0.2, "status": "optimal"},
                                                  "pid": os.getpid()}))
    (out / "schedule.csv").write_text("hour,tablets,maintenance\n0,36,0\n1,0,1\n")
    return parts["objective"]


if __name__ == "__main__":
    main()
