"""One schedule instance from the configuration and a price file, checked before any solve.

Everything here comes from conf/ (optimize, costs) and data/prices/prices.csv; the checks
name the cause of an impossible instance (demand above capacity, maintenance that cannot
be done) so that no solver is ever called on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.core.validation import DataValidationError, file_row
from pipeline.contracts.prices import PRICE


class InfeasibleInstanceError(ValueError):
    """The instance has no feasible schedule; the message names the cause."""


@dataclass
class Instance:
    timestamps: pd.DatetimeIndex
    price: np.ndarray              # USD/MWh per hour
    outside_temperature: np.ndarray  # C per hour
    presses: int
    fixed: dict[str, float]        # pressure_kN, speed_rpm, vibration_mm_s
    temperature_box: tuple[float, float]
    humidity_box: tuple[float, float]
    humidity_initial: float | None  # H_{-1}; None: free (a decomposition's later day chooses its own start)
    max_per_hour: int              # X_max
    maintenance_hours: float       # m
    days: list[np.ndarray]         # hour indices of each day block (24 h, the last may be shorter)
    demand: list[int]              # per demand block (demand_blocks), all presses together
    required_maintenance: int      # per press and day block
    max_maintenance: int           # per press and day block
    machine_kwh_per_unit: float    # alpha P + beta S + gamma V
    usd_per_kwh_per_usd_per_mwh: float
    demand_blocks: list[np.ndarray] | None = None  # hours of each demand block; None: the day blocks
    room_share: float = 1.0        # the share of the room's energy this instance pays (1/K per press of K)

    def __post_init__(self) -> None:
        if self.demand_blocks is None:
            self.demand_blocks = self.days

    @property
    def hours(self) -> int:
        return len(self.price)

    @property
    def capacity_in_maintenance_hour(self) -> int:
        return math.floor(self.max_per_hour * (1.0 - self.maintenance_hours) + 1e-9)

    def day_of(self, hour: int) -> int:
        return hour // 24

    def day(self, d: int, humidity_initial: float | None, presses: int = 1, demand: int | None = None,
            room_share: float = 1.0) -> "Instance":
        """Day block d alone (a decomposition's sub-problem): its hours, prices and outside
        temperatures; `demand` units in the day (default: the day's share of its block's)."""
        hours = self.days[d]
        if demand is None:
            block = next(i for i, b in enumerate(self.demand_blocks) if hours[0] in b)
            demand = math.ceil(self.demand[block] * len(hours) / len(self.demand_blocks[block]) - 1e-9)
        return replace(self, timestamps=self.timestamps[hours], price=self.price[hours],
                       outside_temperature=self.outside_temperature[hours], presses=presses,
                       humidity_initial=humidity_initial, days=[np.arange(len(hours))], demand=[int(demand)],
                       demand_blocks=None, room_share=room_share)


def read_prices(path: str | Path, hours: int) -> pd.DataFrame:
    """The first `hours` rows of the data layer's prices.csv, validated (names file, row, column)."""
    from pipeline.contracts.prices import read_price_file

    path = Path(path)
    table = read_price_file(path, "timestamp", PRICE)
    if len(table) < hours:
        raise DataValidationError(path, f"{len(table)} hourly prices, the horizon needs {hours} "
                                        f"(optimize.horizon_hours): prices for a new horizon come from "
                                        f"`dvc exp run -S optimize.horizon_hours={hours}`", column="timestamp")
    table = table.iloc[:hours].reset_index(drop=True)
    steps = table["timestamp"].diff().dropna()
    if (steps != pd.Timedelta(hours=1)).any():
        i = int(np.argmax((steps != pd.Timedelta(hours=1)).to_numpy())) + 1
        raise DataValidationError(path, f"prices must be hourly without gaps; step {steps.iloc[i - 1]} "
                                        f"before {table['timestamp'].iloc[i]}", row=file_row(i), column="timestamp")
    return table


def _pair(section: DictConfig) -> tuple[float, float]:
    return float(section.min), float(section.max)


def machine_kwh_per_unit(energy: DictConfig, inputs: dict[str, float]):
    """alpha P + beta S + gamma V (conf/costs machine_energy), kWh per unit at the press inputs
    `inputs` (floats, or arrays of them: a realised day's hourly inputs)."""
    return (float(energy.alpha_kwh_per_kN) * inputs["pressure_kN"] + float(energy.beta_kwh_per_rpm) * inputs["speed_rpm"]
            + float(energy.gamma_kwh_per_mm_s) * inputs["vibration_mm_s"])


def build_instance(cfg: DictConfig, prices: pd.DataFrame) -> Instance:
    """The instance of `cfg.optimize` and `cfg.costs` over `prices` (timestamp, price); their
    ranges are checked when the config loads (pipeline/core/settings/optimize.py, costs.py)."""
    opt, costs = cfg.optimize, cfg.costs
    hours = int(opt.horizon_hours)
    if len(prices) < hours:
        raise ValueError(f"{len(prices)} prices for a {hours}-hour horizon")
    prices = prices.iloc[:hours]
    profile = np.asarray(list(opt.outside_temperature_C), float)
    stamps = pd.DatetimeIndex(prices["timestamp"])
    presses = int(opt.presses)
    prod, maint = opt.production, opt.maintenance
    x_max, m = int(prod.max_per_hour), float(prod.maintenance_hours)
    days = [np.arange(s, min(s + 24, hours)) for s in range(0, hours, 24)]
    scope = str(prod.get("demand_scope", "day"))
    blocks = days if scope == "day" else [np.arange(hours)]
    demand = [math.ceil(float(prod.demand_per_day) * len(b) / 24.0 - 1e-9) for b in blocks]
    fixed = {k: float(v) for k, v in opt.fixed_inputs.items()}
    machine = machine_kwh_per_unit(costs.machine_energy, fixed)
    inst = Instance(
        timestamps=stamps, price=prices[PRICE].to_numpy(float),
        outside_temperature=profile[stamps.hour], presses=presses, fixed=fixed,
        temperature_box=_pair(opt.temperature_C),
        humidity_box=_pair(opt.humidity_pct),
        humidity_initial=float(opt.humidity_pct.initial), max_per_hour=x_max, maintenance_hours=m,
        days=days, demand=demand, required_maintenance=int(maint.required_per_day),
        max_maintenance=int(maint.max_per_day), machine_kwh_per_unit=machine,
        usd_per_kwh_per_usd_per_mwh=float(costs.usd_per_kwh_per_usd_per_mwh), demand_blocks=blocks)
    check_feasible(inst)
    return inst


def check_feasible(inst: Instance) -> None:
    """Raise InfeasibleInstanceError naming the cause, before any solver is called."""
    lo, hi = inst.humidity_box
    if inst.humidity_initial is not None and not lo <= inst.humidity_initial <= hi:
        raise InfeasibleInstanceError(f"optimize.humidity_pct.initial {inst.humidity_initial} lies outside "
                                      f"[{lo}, {hi}]")
    if inst.required_maintenance > inst.max_maintenance:
        raise InfeasibleInstanceError(
            f"required maintenance impossible: {inst.required_maintenance} per day required "
            f"(optimize.maintenance.required_per_day) but at most {inst.max_maintenance} allowed (max_per_day)")
    for d, hours in enumerate(inst.days):
        if inst.required_maintenance > len(hours):
            raise InfeasibleInstanceError(
                f"required maintenance impossible: day {d} has {len(hours)} hour(s) and at most one maintenance "
                f"per hour, but {inst.required_maintenance} are required (optimize.maintenance.required_per_day)")
    lost = inst.max_per_hour - inst.capacity_in_maintenance_hour
    for b, hours in enumerate(inst.demand_blocks):
        days = sum(1 for day in inst.days if day[0] in hours)
        capacity = inst.presses * (len(hours) * inst.max_per_hour - days * inst.required_maintenance * lost)
        if inst.demand[b] > capacity:
            what = f"day {b}" if inst.demand_blocks is inst.days else "the horizon"
            raise InfeasibleInstanceError(
                f"demand above capacity: {what} needs {inst.demand[b]} units but {inst.presses} press(es) can make "
                f"at most {capacity} in its {len(hours)} hour(s) with the {inst.required_maintenance} required "
                f"maintenance(s) a day (optimize.production.demand_per_day / max_per_hour)")
