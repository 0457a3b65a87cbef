"""What passes between the presses and the live planner: OPC UA node names and the plan file.

The scripted press server (pipeline/data/press_opcua.py) and the planner (pipeline/optimize/live)
both read them here, so neither imports the other:

- the press signals, one string node id per press and signal in the press server's namespace
  (conf/replan `nodes`, templates with `{press}`); every sample carries the line time as its
  SourceTimestamp;
- the planner's published variables (`Plan.*`, `Plan.Press<k>.*`, `Planner.*` in the planner's
  namespace): the next hour's setpoints and targets, the plan's version, trigger, status and gap;
- the plan file (the optimize stage's schedule.csv, and every version the planner writes): the
  columns both sides read, and its validated reader.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.validation import DataValidationError, file_row

MEASURED = ("pressure_kN", "speed_rpm", "vibration_mm_s")  # the press inputs of the fault network
PRESS_SIGNALS = (*MEASURED, "running", "units", "maintenances")
PLANT_SIGNALS = ("prices", "clock")

# The planner's variables: name -> OPC UA variant type name (asyncua's ua.VariantType member)
PLAN_VALUES = {"Hour": "Int64", "HourStart": "String", "Temperature_C": "Double", "Humidity_pct": "Double",
               "Version": "Int64", "Trigger": "String", "Status": "String", "Gap": "Double",
               "Objective": "Double", "Remaining": "String"}
PRESS_VALUES = {"Target": "Int64", "Maintenance": "Boolean"}
PLANNER_VALUES = {"LineTime": "String", "Held": "Boolean", "Flags": "String"}

# The plan file
PLAN_COLUMNS = ("press", "hour", "temperature_C", "humidity_pct", "units", "maintenance")
INTEGER_COLUMNS = ("press", "hour", "units", "maintenance")


def signal_node(nodes, signal: str, press: int | None = None) -> str:
    """The configured string node id of `signal` (of press `press`), without its namespace index."""
    if signal not in nodes:
        raise KeyError(f"replan.nodes.{signal}: no node id configured (conf/replan)")
    return str(nodes[signal]).format(press=press)


def plan_node(name: str, press: int | None = None) -> str:
    """String node id of one of the planner's variables (Plan.Hour, Plan.Press0.Target, Planner.Flags)."""
    if name in PLANNER_VALUES:
        return f"Planner.{name}"
    return f"Plan.{name}" if press is None else f"Plan.Press{press}.{name}"


def read_plan(path: str | Path) -> pd.DataFrame:
    """A plan file (schedule.csv), checked: the columns of PLAN_COLUMNS, whole hours 0..H-1 for each
    press 0..K-1 exactly once, whole non-negative units, maintenance 0 or 1, finite setpoints that
    every press of an hour shares. Sorted by (press, hour)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: plan file not found (replan.plan; `dvc repro optimize` writes it)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(path, f"not a readable CSV ({type(exc).__name__})") from None
    missing = [c for c in PLAN_COLUMNS if c not in table.columns]
    if missing:
        raise DataValidationError(path, f"missing column(s) {missing}; a plan has {list(PLAN_COLUMNS)}")
    if table.empty:
        raise DataValidationError(path, "no rows")
    for column in PLAN_COLUMNS:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(float))
        if column in INTEGER_COLUMNS:
            bad |= values.fillna(0).to_numpy(float) % 1 != 0
            bad |= values.fillna(0).to_numpy(float) < 0
        if column == "maintenance":
            bad |= values.fillna(0).to_numpy(float) > 1
        if bad.any():
            i = int(np.argmax(bad))
            allowed = "0 or 1" if column == "maintenance" else ("a whole number >= 0" if column in INTEGER_COLUMNS
                                                                 else "a finite number")
            raise DataValidationError(path, f"{str(table[column].iloc[i])!r} is not {allowed}", row=file_row(i),
                                      column=column)
        table[column] = values.astype(int) if column in INTEGER_COLUMNS else values.astype(float)
    presses, hours = table["press"].max() + 1, table["hour"].max() + 1
    counts = table.groupby(["press", "hour"]).size()
    if len(counts) != presses * hours or (counts != 1).any():
        raise DataValidationError(path, f"each press 0..{presses - 1} needs each hour 0..{hours - 1} exactly once "
                                        f"({len(table)} rows for {len(counts)} (press, hour) pairs)", column="hour")
    table = table.sort_values(["press", "hour"], kind="stable").reset_index(drop=True)
    for column in ("temperature_C", "humidity_pct"):
        spread = table.groupby("hour")[column].agg(lambda s: s.max() - s.min())
        if (spread > 1e-9).any():
            raise DataValidationError(path, f"hour {int(spread.idxmax())}: the presses share one room, but its "
                                            f"setpoints differ between them", column=column)
    return table
