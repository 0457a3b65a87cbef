"""A short day of a plant of two different presses in two rooms for the live planner's tests:
the stand-in fault network, the 8-hour day's prices (replan_harness.PRICES), its day-ahead plan
solved once by the optimize stage's functions."""
from __future__ import annotations

from pathlib import Path

import yaml

from tests.optimize.replan_harness import short_day

# two rooms, one press each, the presses different (inputs, capacity): a plant the decomposition
# solves and the press server plays press by press
TWO_PRESSES = {"rooms": [
    {"name": "east", "humidity_pct": {"min": 30.0, "max": 65.0, "initial": 45.0},
     "presses": [{"name": "E1", "max_per_hour": 36}]},
    {"name": "west", "humidity_pct": {"min": 35.0, "max": 60.0, "initial": 50.0},
     "presses": [{"name": "W1-fast", "max_per_hour": 42,
                  "fixed_inputs": {"pressure_kN": 58.0, "speed_rpm": 820.0, "vibration_mm_s": 0.25}}]}]}


def plant_day(folder: Path, fault_onnx: Path, hours: int = 4, demand_per_day: int = 1320,
              overrides: list[str] | None = None):
    """(cfg, schedule.csv) of the two-press plant over the first `hours` hours; the demand
    (prorated: 220 units in 4 hours) needs both presses in some dear hours."""
    folder.mkdir(parents=True, exist_ok=True)
    plant_file = folder / "plant.yaml"
    plant_file.write_text(yaml.safe_dump(TWO_PRESSES))
    return short_day(folder, fault_onnx, hours, [f"optimize.plant_file={plant_file}",
                                                 f"optimize.production.demand_per_day={demand_per_day}",
                                                 "optimize.parallel=none", *(overrides or [])])
