"""One schedule instance from the configuration, the plant and a price file, checked before any solve.

Everything here comes from conf/ (optimize, costs), the plant (plant.py) and
data/prices/prices.csv; the checks name the cause of an impossible instance (demand above
capacity, maintenance that cannot be done) so that no solver is ever called on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.prices import PRICE
from pipeline.core.validation import DataValidationError, file_row
from pipeline.optimize.plant import Plant, Press


class InfeasibleInstanceError(ValueError):
    """The instance has no feasible schedule; the message names the cause."""


@dataclass
class Instance:
    """One room's scheduling problem, the formulation's input: the room's climate box, its presses
    (one row per physical press: a press kind with count 3 is three rows), the hours with their
    prices and outside temperatures, the demand. A plant of several rooms is a PlantInstance; the
    decomposition cuts both into single-press day problems (`day`)."""

    timestamps: pd.DatetimeIndex
    price: np.ndarray              # USD/MWh per hour
    outside_temperature: np.ndarray  # C per hour
    rows: tuple[Press, ...]        # the room's presses, one row each
    temperature_box: tuple[float, float]
    humidity_box: tuple[float, float]
    humidity_initial: float | None  # H_{-1}; None: free (a decomposition's later day chooses its own start)
    days: list[np.ndarray]         # hour indices of each day block (24 h, the last may be shorter)
    demand: list[int]              # per demand block (demand_blocks), all presses together
    usd_per_kwh_per_usd_per_mwh: float
    demand_blocks: list[np.ndarray] | None = None  # hours of each demand block; None: the day blocks
    room_share: float = 1.0        # the share of the room's energy this instance pays (a decomposition's press)
    maintenance_done: np.ndarray | None = None  # [rows, days] maintenances made before the first hour (a re-plan)
    room: str = "room"
    weights: tuple[int, ...] | None = None  # identical presses each row stands for (one plan for all); None: 1 each

    def __post_init__(self) -> None:
        if self.demand_blocks is None:
            self.demand_blocks = self.days
        if self.maintenance_done is None:
            self.maintenance_done = np.zeros((len(self.rows), len(self.days)), dtype=int)
        if self.weights is None:
            self.weights = (1,) * len(self.rows)

    @property
    def hours(self) -> int:
        return len(self.price)

    @property
    def presses(self) -> int:
        return len(self.rows)

    @property
    def kinds(self) -> list[Press]:
        """The distinct press kinds of the rows, in order of first appearance."""
        return list({press.kind: press for press in self.rows}.values())

    def kind_of(self, k: int) -> int:
        """Index (in `kinds`) of row k's press kind."""
        return [p.kind for p in self.kinds].index(self.rows[k].kind)

    def day_of(self, hour: int) -> int:
        return next(d for d, hours in enumerate(self.days) if hours[0] <= hour <= hours[-1])

    def count_range(self, k: int, d: int) -> tuple[int, int]:
        """Row k's maintenance count N on day d (the network's input: done before + planned here)."""
        press, done = self.rows[k], int(self.maintenance_done[k, d])
        return max(press.required_maintenance, done), min(press.max_maintenance, done + len(self.days[d]))

    def day(self, d: int, humidity_initial: float | None, rows: list[int] | None = None,
            demand: int | None = None, room_share: float = 1.0) -> "Instance":
        """Day block d alone (a decomposition's sub-problem) for the rows `rows` (default: the
        first): its hours, prices and outside temperatures; `demand` units in the day (default:
        the day's share of its block's)."""
        hours = self.days[d]
        rows = [0] if rows is None else list(rows)
        if demand is None:
            block = next(i for i, b in enumerate(self.demand_blocks) if hours[0] in b)
            demand = math.ceil(self.demand[block] * len(hours) / len(self.demand_blocks[block]) - 1e-9)
        return replace(self, timestamps=self.timestamps[hours], price=self.price[hours],
                       outside_temperature=self.outside_temperature[hours], rows=tuple(self.rows[k] for k in rows),
                       humidity_initial=humidity_initial, days=[np.arange(len(hours))], demand=[int(demand)],
                       demand_blocks=None, room_share=room_share,
                       maintenance_done=self.maintenance_done[rows][:, [d]].copy(),
                       weights=tuple(self.weights[k] for k in rows))


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


@dataclass
class PlantInstance:
    """The whole plant over the horizon: rooms with their presses (plant.py), hours, prices,
    outside temperatures and the plant's demand (all presses together). Rows ("machines") are
    the physical presses in plant order: room by room, a press kind's copies one after another.
    `remaining` cuts out what a re-plan during the day still decides."""

    plant: Plant
    timestamps: pd.DatetimeIndex
    price: np.ndarray
    outside_temperature: np.ndarray
    days: list[np.ndarray]
    demand: list[int]
    demand_blocks: list[np.ndarray]
    usd_per_kwh_per_usd_per_mwh: float
    humidity_initial: tuple[float, ...]          # per room: H before the first hour
    maintenance_done: np.ndarray | None = None   # [machines, days] made before the first hour

    def __post_init__(self) -> None:
        if self.maintenance_done is None:
            self.maintenance_done = np.zeros((len(self.machines), len(self.days)), dtype=int)

    @property
    def hours(self) -> int:
        return len(self.price)

    @property
    def machines(self) -> list[tuple[int, Press]]:
        """(room index, press) of every physical press, in plant order."""
        return [(r, press) for r, room in enumerate(self.plant.rooms) for press in room.presses
                for _ in range(press.count)]

    @property
    def presses(self) -> int:
        """Physical presses of the plant (counts included)."""
        return len(self.machines)

    @property
    def machine_names(self) -> list[str]:
        return [press.name if press.count == 1 else f"{press.name}#{i + 1}"
                for room in self.plant.rooms for press in room.presses for i in range(press.count)]

    def rows_of(self, r: int) -> list[int]:
        return [k for k, (room, _) in enumerate(self.machines) if room == r]

    def day_of(self, hour: int) -> int:
        return next(d for d, hours in enumerate(self.days) if hours[0] <= hour <= hours[-1])

    def room_instance(self, r: int) -> Instance:
        """Room r with all its presses over the whole horizon and the plant's demand (exact only
        for a plant of one room: the formulation's input when nothing is decomposed)."""
        room = self.plant.rooms[r]
        rows = self.rows_of(r)
        return Instance(self.timestamps, self.price, self.outside_temperature,
                        tuple(self.machines[k][1] for k in rows), room.temperature_box, room.humidity_box,
                        self.humidity_initial[r], self.days, self.demand, self.usd_per_kwh_per_usd_per_mwh,
                        demand_blocks=self.demand_blocks, maintenance_done=self.maintenance_done[rows].copy(),
                        room=room.name)

    def remaining(self, first_hour: int, humidity: dict[str, float] | None = None, units_made: int = 0,
                  maintenance_done: dict[str, int] | None = None) -> "PlantInstance":
        """What a re-plan at `first_hour` still decides: the hours from there to the horizon's end,
        each room starting at its measured humidity (`humidity`: room name -> %RH; default its
        planned start), the demand block running lowered by `units_made` (all presses together
        since the block began), and each press's count for today starting from the maintenances
        it already made today (`maintenance_done`: machine name -> count; the network still sees
        the day's total). Later days are untouched."""
        if not 0 <= first_hour < self.hours:
            raise ValueError(f"first_hour {first_hour} outside 0..{self.hours - 1}")
        keep = np.arange(first_hour, self.hours)
        d0 = self.day_of(first_hour)
        days = [np.arange(max(h[0], first_hour), h[-1] + 1) - first_hour for h in self.days[d0:]]
        blocks, demand = [], []
        for block, need in zip(self.demand_blocks, self.demand):
            if block[-1] < first_hour:
                continue
            made = units_made if block[0] <= first_hour else 0
            blocks.append(block[block >= first_hour] - first_hour)
            demand.append(max(int(need) - int(made), 0))
        names = self.machine_names
        done = np.zeros((len(names), len(days)), dtype=int)
        for name, count in (maintenance_done or {}).items():
            if name not in names:
                raise ValueError(f"maintenance_done: no press {name!r}; presses are {names}")
            done[names.index(name), 0] = int(count)
        rooms = [room.name for room in self.plant.rooms]
        start = list(self.humidity_initial)
        for name, value in (humidity or {}).items():
            if name not in rooms:
                raise ValueError(f"humidity: no room {name!r}; rooms are {rooms}")
            start[rooms.index(name)] = float(value)
        out = replace(self, timestamps=self.timestamps[keep], price=self.price[keep],
                      outside_temperature=self.outside_temperature[keep], days=days, demand=demand,
                      demand_blocks=blocks, humidity_initial=tuple(start), maintenance_done=done)
        check_feasible(out)
        return out


def build_plant_instance(cfg: DictConfig, prices: pd.DataFrame, plant: Plant) -> PlantInstance:
    """The plant's instance of `cfg.optimize` and `cfg.costs` over `prices` (timestamp, price); their
    ranges are checked when the config loads (pipeline/core/settings/optimize.py, costs.py), the
    plant's own keys as it is read (plant.py)."""
    opt, costs = cfg.optimize, cfg.costs
    hours = int(opt.horizon_hours)
    if len(prices) < hours:
        raise ValueError(f"{len(prices)} prices for a {hours}-hour horizon")
    prices = prices.iloc[:hours]
    profile = np.asarray(list(opt.outside_temperature_C), float)
    stamps = pd.DatetimeIndex(prices["timestamp"])
    prod = opt.production
    days = [np.arange(s, min(s + 24, hours)) for s in range(0, hours, 24)]
    scope = str(prod.get("demand_scope", "day"))
    blocks = days if scope == "day" else [np.arange(hours)]
    demand = [math.ceil(float(prod.demand_per_day) * len(b) / 24.0 - 1e-9) for b in blocks]
    inst = PlantInstance(plant, stamps, prices[PRICE].to_numpy(float), profile[stamps.hour], days, demand, blocks,
                         float(costs.usd_per_kwh_per_usd_per_mwh), tuple(r.humidity_initial for r in plant.rooms))
    check_feasible(inst)
    return inst


def build_instance(cfg: DictConfig, prices: pd.DataFrame, plant: Plant | None = None) -> Instance:
    """The one-room Instance of a plant of one room (default: the plant of `cfg`)."""
    from pipeline.optimize.plant import load_plant

    inst = build_plant_instance(cfg, prices, plant or load_plant(cfg))
    if len(inst.plant.rooms) != 1:
        raise ValueError(f"build_instance: the plant has {len(inst.plant.rooms)} rooms; use build_plant_instance")
    return inst.room_instance(0)


def check_feasible(inst: PlantInstance) -> None:
    """Raise InfeasibleInstanceError naming the cause, before any solver is called."""
    for room, start in zip(inst.plant.rooms, inst.humidity_initial):
        lo, hi = room.humidity_box
        if not lo <= start <= hi:
            raise InfeasibleInstanceError(f"room {room.name!r}: humidity before the first hour {start} lies outside "
                                          f"[{lo}, {hi}] (optimize.humidity_pct.initial)")
    names = inst.machine_names
    for k, (_, press) in enumerate(inst.machines):
        for d, hours in enumerate(inst.days):
            done = int(inst.maintenance_done[k, d])
            if press.required_maintenance > done + len(hours):
                raise InfeasibleInstanceError(
                    f"required maintenance impossible: press {names[k]!r}, day {d} has {len(hours)} hour(s) and at "
                    f"most one maintenance per hour, but {press.required_maintenance} are required "
                    f"(maintenance.required_per_day)")
            if done > press.max_maintenance:
                raise InfeasibleInstanceError(f"press {names[k]!r}: {done} maintenances made on day {d}, at most "
                                              f"{press.max_maintenance} allowed")
    for b, hours in enumerate(inst.demand_blocks):
        capacity = 0
        for k, (_, press) in enumerate(inst.machines):
            lost = press.max_per_hour - press.capacity_in_maintenance_hour
            need = sum(max(press.required_maintenance - int(inst.maintenance_done[k, d]), 0)
                       for d, day in enumerate(inst.days) if day[0] in hours)
            capacity += len(hours) * press.max_per_hour - need * lost
        if inst.demand[b] > capacity:
            what = f"day {b}" if len(inst.demand_blocks) == len(inst.days) else "the horizon"
            raise InfeasibleInstanceError(
                f"demand above capacity: {what} needs {inst.demand[b]} units but {len(names)} press(es) can make "
                f"at most {capacity} in its {len(hours)} hour(s) with the required maintenance(s) a day "
                f"(optimize.production.demand_per_day / max_per_hour)")
