"""Plan versions: the day's plan as it stands after each re-plan, and the files they are kept in.

A version holds the whole day: the hours before its `first_hour` as the previous version had them
(past or committed), the rest as its re-plan chose. Version 0 is the day-ahead plan (the optimize
stage's schedule.csv). Each version is written as <out>/plan_v<NNN>.csv (the plan file's contract
columns, so the press server reads it like the day-ahead one) and one row of versions.csv.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.contracts.press_signals import read_plan
from pipeline.core.validation import DataValidationError
from pipeline.optimize.instance import PlantInstance
from pipeline.optimize.network import FEATURES, N_INPUT, FaultNetwork
from pipeline.optimize.sigmoid import sigmoid

VERSION_COLUMNS = ["version", "trigger", "line_time", "first_hour", "status", "gap", "objective_usd",
                   "remaining_profit_usd", "units_planned", "maintenance_count", "shortfall_units", "inputs",
                   "build_s", "solve_s", "latency_s", "sub_models_built"]


@dataclass
class PlanVersion:
    version: int
    trigger: str
    line_time: str                  # when it was made (line time, ISO)
    first_hour: int                 # hours before it: as the previous version had them
    temperature: np.ndarray         # [hours] C
    humidity: np.ndarray            # [hours] %RH
    units: np.ndarray               # [presses, hours]
    maintenance: np.ndarray         # [presses, hours]
    count: np.ndarray               # [presses] the day's maintenance count N (done + planned)
    inputs: dict[str, float]        # the press inputs it is planned at
    prices: np.ndarray              # [hours] the prices it is planned against
    status: str                     # day-ahead | optimal | time_limit | feasible (the last two: with their gap)
    gap: float | None = None
    objective: float | None = None  # the MILP's objective of the re-planned hours (with the past hours' term)
    remaining_profit: float | None = None  # numpy profit of the re-planned hours, onnxruntime's p
    shortfall: int = 0              # units of the demand the remaining hours cannot make
    build_s: float | None = None
    solve_s: float | None = None
    latency_s: float | None = None  # from the triggering signal's server timestamp to published
    built: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def hours(self) -> int:
        return len(self.temperature)

    def p_fail(self, net: FaultNetwork) -> np.ndarray:
        """The network's failure probability of every press and hour at the plan's setpoints, count
        and inputs ([presses, hours], float64)."""
        out = np.zeros(self.units.shape)
        for k in range(self.units.shape[0]):
            cols = {**{n: np.full(self.hours, v) for n, v in self.inputs.items()}, "temperature_C": self.temperature,
                    "humidity_pct": self.humidity, N_INPUT: np.full(self.hours, float(self.count[k]))}
            out[k] = sigmoid(net.logit(np.column_stack([np.asarray(cols[n], float) for n in FEATURES])))
        return out

    def table(self, day: PlantInstance, net: FaultNetwork) -> pd.DataFrame:
        p = self.p_fail(net)
        frames = []
        for k in range(self.units.shape[0]):
            frames.append(pd.DataFrame({
                "press": k, "hour": np.arange(self.hours), "timestamp": day.timestamps,
                "price_usd_per_mwh": self.prices, "temperature_C": self.temperature, "humidity_pct": self.humidity,
                "units": self.units[k], "maintenance": self.maintenance[k],
                "maintenance_count_N": int(self.count[k]), "p_fail": p[k],
                "replanned": np.arange(self.hours) >= self.first_hour}))
        return pd.concat(frames, ignore_index=True)

    def row(self) -> dict:
        def num(v):
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
        return {"version": self.version, "trigger": self.trigger, "line_time": self.line_time,
                "first_hour": self.first_hour, "status": self.status, "gap": num(self.gap),
                "objective_usd": num(self.objective), "remaining_profit_usd": num(self.remaining_profit),
                "units_planned": int(self.units.sum()), "maintenance_count": int(self.count.sum()),
                "shortfall_units": self.shortfall, "inputs": self.inputs_json(),
                "build_s": num(self.build_s), "solve_s": num(self.solve_s), "latency_s": num(self.latency_s),
                "sub_models_built": self.built}

    def inputs_json(self) -> str:
        return json.dumps({k: round(v, 4) for k, v in self.inputs.items()})

    def next_hour(self, hour: int) -> dict:
        """What the planner publishes for `hour`: setpoints, each press's target and maintenance flag."""
        return {"hour": hour, "temperature_C": float(self.temperature[hour]), "humidity_pct": float(self.humidity[hour]),
                "units": [int(u) for u in self.units[:, hour]], "maintenance": [bool(b) for b in self.maintenance[:, hour]]}

    def remaining_json(self, first: int) -> str:
        """Hours first.. as JSON (Plan.Remaining: what a SCADA screen shows of the rest of the day)."""
        return json.dumps({"first_hour": first, "temperature_C": np.round(self.temperature[first:], 3).tolist(),
                           "humidity_pct": np.round(self.humidity[first:], 3).tolist(),
                           "units": self.units[:, first:].tolist(), "maintenance": self.maintenance[:, first:].tolist()})


def day_ahead(path: str | Path, day: PlantInstance, metrics: dict | None = None) -> PlanVersion:
    """Version 0 from the day-ahead plan file, checked against the day it is for."""
    table = read_plan(path)
    presses, hours = int(table["press"].max()) + 1, int(table["hour"].max()) + 1
    if hours != day.hours or presses != day.presses:
        raise DataValidationError(path, f"a plan of {presses} press(es) x {hours} hours, but the day (optimize.presses, "
                                        f"optimize.horizon_hours) has {day.presses} x {day.hours}: run "
                                        f"`dvc repro optimize` for this configuration", column="hour")
    units = table.pivot(index="press", columns="hour", values="units").to_numpy(int)
    maint = table.pivot(index="press", columns="hour", values="maintenance").to_numpy(int)
    top = np.array([press.max_per_hour for _, press in day.machines])[:, None]
    low = np.array([press.capacity_in_maintenance_hour for _, press in day.machines])[:, None]
    cap = top - (top - low) * maint
    if (units > cap).any():
        k, t = np.argwhere(units > cap)[0]
        raise DataValidationError(path, f"press {k}, hour {t}: {units[k, t]} units above the hour's capacity "
                                        f"{cap[k, t]} (optimize.production)", column="units")
    room = table[table["press"] == 0]
    solve = (metrics or {}).get("solve", {})
    return PlanVersion(0, "day-ahead", str(day.timestamps[0]), 0, room["temperature_C"].to_numpy(float),
                       room["humidity_pct"].to_numpy(float), units, maint, maint.sum(axis=1), day.machines[0][1].fixed_inputs,
                       day.price.copy(), "day-ahead " + str(solve.get("status", "plan")), solve.get("gap"),
                       (metrics or {}).get("objective"))


class VersionFiles:
    """<out>/plan_v<NNN>.csv per version and versions.csv (flushed at each version)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.out / "versions.csv", "w", newline="")
        self._csv = csv.DictWriter(self._fh, fieldnames=VERSION_COLUMNS)
        self._csv.writeheader()

    def write(self, version: PlanVersion, day: PlantInstance, net: FaultNetwork) -> Path:
        path = self.out / f"plan_v{version.version:03d}.csv"
        version.table(day, net).to_csv(path, index=False)
        self._csv.writerow(version.row())
        self._fh.flush()
        return path

    def close(self) -> None:
        self._fh.close()
