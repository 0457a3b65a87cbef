"""What passes between the presses and the live planner: OPC UA node names and the plan file.

The scripted press server (pipeline/data/press_opcua.py) and the planner (pipeline/optimize/live)
both read them here, so neither imports the other:

- the press signals, one string node id per press and signal in the press server's namespace
  (conf/replan `nodes`, templates with `{press}`; a plant of several presses: `plant_nodes`,
  templates with `{name}`, the plant's press name); every sample carries the line time as its
  SourceTimestamp;
- the planner's published variables (`Plan.*`, `Plan.Press<k>.*`, `Planner.*` in the planner's
  namespace): the next hour's setpoints and targets, the plan's version, trigger, status and gap;
  a plant of several presses publishes each room's setpoints (`Plan.Rooms.<room>.*`) and each
  press's target and flag (`Plan.Presses.<press>.*`) by name;
- the plan file (the optimize stage's schedule.csv, and every version the planner writes): the
  columns both sides read, and its validated reader.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.contracts.plant_file import MAX_PRESSES, PlantError, plant_spec
from pipeline.core.validation import DataValidationError, file_row, shown

MEASURED = ("pressure_kN", "speed_rpm", "vibration_mm_s")  # the press inputs of the fault network
PRESS_SIGNALS = (*MEASURED, "running", "units", "maintenances")
PLANT_SIGNALS = ("prices", "clock")

# The planner's variables: name -> OPC UA variant type name (asyncua's ua.VariantType member)
PLAN_VALUES = {"Hour": "Int64", "HourStart": "String", "Temperature_C": "Double", "Humidity_pct": "Double",
               "Version": "Int64", "Trigger": "String", "Status": "String", "Gap": "Double",
               "Objective": "Double", "Remaining": "String"}
PRESS_VALUES = {"Target": "Int64", "Maintenance": "Boolean"}
ROOM_VALUES = {"Temperature_C": "Double", "Humidity_pct": "Double"}
PLANNER_VALUES = {"LineTime": "String", "Held": "Boolean", "Flags": "String"}

# The plan file
PLAN_COLUMNS = ("press", "hour", "temperature_C", "humidity_pct", "units", "maintenance")
INTEGER_COLUMNS = ("press", "hour", "units", "maintenance")


def signal_node(nodes, signal: str, press: int | None = None, name: str | None = None) -> str:
    """The configured string node id of `signal` (of press `press`, named `name`), without its
    namespace index."""
    if signal not in nodes:
        raise KeyError(f"replan.nodes.{signal}: no node id configured (conf/replan)")
    return str(nodes[signal]).format(press=press, name=name)


def node_templates(rp, presses: int) -> dict:
    """The node id templates of a line of `presses` presses: conf/replan `nodes`; for several
    presses each press signal's template from `plant_nodes` (by press name)."""
    nodes = dict(rp.nodes)
    if presses > 1:
        nodes.update({s: rp.plant_nodes[s] for s in PRESS_SIGNALS})
    return nodes


def plan_node(name: str, press: int | None = None) -> str:
    """String node id of one of the planner's variables (Plan.Hour, Plan.Press0.Target, Planner.Flags)."""
    if name in PLANNER_VALUES:
        return f"Planner.{name}"
    return f"Plan.{name}" if press is None else f"Plan.Press{press}.{name}"


def plant_plan_node(name: str, press: str | None = None, room: str | None = None) -> str:
    """String node id of a plant planner's per-press (Plan.Presses.<press>.Target) or per-room
    (Plan.Rooms.<room>.Temperature_C) variable; neither: plan_node's."""
    if press is not None:
        return f"Plan.Presses.{press}.{name}"
    if room is not None:
        return f"Plan.Rooms.{room}.{name}"
    return plan_node(name)


def read_plan(path: str | Path) -> pd.DataFrame:
    """A plan file (schedule.csv), checked: the columns of PLAN_COLUMNS, whole hours 0..H-1 for each
    press 0..K-1 exactly once, whole non-negative units, maintenance 0 or 1, finite setpoints that
    every press of an hour shares (of a room, where the plan has a `room` column). Sorted by
    (press, hour)."""
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
    by = ["room", "hour"] if "room" in table.columns else "hour"
    for column in ("temperature_C", "humidity_pct"):
        spread = table.groupby(by)[column].agg(lambda s: s.max() - s.min())
        if (spread > 1e-9).any():
            where = spread.idxmax()
            where = f"room {where[0]!r}, hour {int(where[1])}" if isinstance(where, tuple) else f"hour {int(where)}"
            raise DataValidationError(path, f"{where}: the presses share one room, but its "
                                            f"setpoints differ between them", column=column)
    return table


@dataclass(frozen=True)
class SampleLimits:
    """What one press can report: each measured input's accepted range (the planner sets its
    press network's training range, widened by optimize.training_range_tolerance), and the units
    and maintenances one day can hold."""
    measured: dict[str, tuple[float, float]]
    max_units: int
    max_maintenances: int


def judge_sample(signal: str, value, limits: SampleLimits | None, hours: int) -> tuple[object, str | None]:
    """(the value as the planner keeps it, None), or (None, why the sample is refused): a press
    sends a finite number of its signal's kind within `limits`, a running state true or false,
    and the prices one finite number per hour of the day. A refused sample changes nothing."""
    if signal == "prices":
        try:
            prices = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return None, f"{shown(value)} is not a list of numbers"
        if prices.shape != (hours,):
            return None, f"{prices.size} value(s); the day has {hours} hours"
        if not np.isfinite(prices).all():
            return None, "a price is NaN or infinite"
        return prices, None
    if signal == "running":
        if isinstance(value, (bool, np.bool_)) or (_is_number(value) and value in (0, 1)):
            return bool(value), None
        return None, f"{shown(value)} is not a running state (true or false)"
    if not _is_number(value):
        return None, f"{shown(value)} is not a number"
    number = float(value)
    if not math.isfinite(number):
        return None, f"{number} is not a finite number"
    if signal in MEASURED:
        low, high = limits.measured.get(signal, (0.0, math.inf)) if limits is not None else (0.0, math.inf)
        if not low <= number <= high:
            return None, (f"{number:g} outside [{low:g}, {high:g}] (the press network's training range, widened by "
                          "optimize.training_range_tolerance): the network would extrapolate")
        return number, None
    top = math.inf if limits is None else (limits.max_units if signal == "units" else limits.max_maintenances)
    if number != math.floor(number) or not 0 <= number <= top:
        return None, f"{number:g}: allowed a whole number from 0 to {top:g} (what one day can hold)"
    return int(number), None


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class LinePress:
    """One physical press as the press server plays it."""

    name: str                     # the plant's name (a kind with count > 1: <name>#1, <name>#2, ...)
    room: str
    normal: dict[str, float]      # its fixed inputs: the measured inputs' normal values
    max_per_hour: int
    maintenance_hours: float


def line_presses(opt) -> list[LinePress]:
    """The physical presses of conf optimize's plant (read by contracts/plant_file.plant_spec, as
    the optimiser reads it) in plant order, a press's left-out keys taken from the flat optimize
    keys as the optimiser's plant reader (pipeline/optimize/plant.py) does; that reader checks
    every key, this one reads what the press server plays (names, rooms, normal inputs, capacity,
    maintenance time) and refuses in one line a plant the optimiser would not have accepted."""
    spec, source, _ = plant_spec(opt)
    try:
        return list(_presses(spec, opt))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlantError(f"plant {source}: not a plant the optimiser accepts ({type(exc).__name__}: "
                         f"{str(exc)[:120]}); `python -m pipeline.optimize` with it names the key") from None


def _presses(spec, opt):
    if not isinstance(spec, dict) or not isinstance(spec.get("rooms"), list):
        raise ValueError("a plant is a mapping with a list of `rooms` (conf/optimize/plant)")
    prod, total = opt.production, 0
    for room in spec["rooms"]:
        for press in room.get("presses") or []:
            normal = {s: float((press.get("fixed_inputs") or {}).get(s, opt.fixed_inputs[s])) for s in MEASURED}
            count = int(press.get("count", opt.get("presses", 1)))
            total += count
            if count < 1 or total > MAX_PRESSES:
                raise ValueError(f"count {count}: at least 1, at most {MAX_PRESSES} presses in all")
            for i in range(count):
                yield LinePress(press["name"] if count == 1 else f"{press['name']}#{i + 1}", str(room["name"]),
                                normal, int(press.get("max_per_hour", prod.max_per_hour)),
                                float(press.get("maintenance_hours", prod.maintenance_hours)))
