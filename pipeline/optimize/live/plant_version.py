"""A plan version of a plant of several presses: each room's setpoints, each press's units,
maintenance, count and inputs (the one-press PlanVersion's fields, with rooms and press names).

Its files are the plan file's contract (contracts/press_signals.read_plan: one row per press and
hour, with press_name and room, each room's setpoints on its presses' rows), so the press server
reads a version like the day-ahead schedule.csv.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.optimize.instance import PlantInstance
from pipeline.optimize.live.versions import PlanVersion
from pipeline.optimize.network import FEATURES, N_INPUT
from pipeline.optimize.sigmoid import sigmoid


@dataclass
class PlantVersion(PlanVersion):
    """temperature and humidity are [rooms, hours]; inputs is press name -> {input: value}."""

    names: list[str] = field(default_factory=list)    # press names, plant order
    rooms: list[str] = field(default_factory=list)    # room names
    room_of: list[int] = field(default_factory=list)  # each press's room index

    @property
    def hours(self) -> int:
        return int(np.asarray(self.temperature).shape[1])

    def p_fail(self, networks: dict, day: PlantInstance | None = None) -> np.ndarray:
        """Each press's failure probability per hour at its room's setpoints, its count and inputs."""
        out = np.zeros(self.units.shape)
        for k, (r, press) in enumerate(day.machines):
            inputs = self.inputs[self.names[k]]
            cols = {**{n: np.full(self.hours, v) for n, v in inputs.items()}, "temperature_C": self.temperature[r],
                    "humidity_pct": self.humidity[r], N_INPUT: np.full(self.hours, float(self.count[k]))}
            raw = np.column_stack([np.asarray(cols[n], float) for n in FEATURES])
            out[k] = sigmoid(networks[press.network_file].logit(raw))
        return out

    def table(self, day: PlantInstance, networks: dict) -> pd.DataFrame:
        p = self.p_fail(networks, day)
        frames = []
        for k in range(self.units.shape[0]):
            r = self.room_of[k]
            frames.append(pd.DataFrame({
                "press": k, "press_name": self.names[k], "room": self.rooms[r], "hour": np.arange(self.hours),
                "timestamp": day.timestamps, "price_usd_per_mwh": self.prices, "temperature_C": self.temperature[r],
                "humidity_pct": self.humidity[r], "units": self.units[k], "maintenance": self.maintenance[k],
                "maintenance_count_N": int(self.count[k]), "p_fail": p[k],
                "replanned": np.arange(self.hours) >= self.first_hour}))
        return pd.concat(frames, ignore_index=True)

    def inputs_json(self) -> str:
        return json.dumps({name: {k: round(v, 4) for k, v in values.items()} for name, values in self.inputs.items()})

    def next_hour(self, hour: int) -> dict:
        """Each room's setpoints (lists, room order), each press's target and maintenance flag."""
        return {"hour": hour, "temperature_C": [float(v) for v in self.temperature[:, hour]],
                "humidity_pct": [float(v) for v in self.humidity[:, hour]],
                "units": [int(u) for u in self.units[:, hour]], "maintenance": [bool(b) for b in self.maintenance[:, hour]]}

    def remaining_json(self, first: int) -> str:
        return json.dumps({"first_hour": first, "rooms": self.rooms, "presses": self.names, "room_of": self.room_of,
                           "temperature_C": np.round(self.temperature[:, first:], 3).tolist(),
                           "humidity_pct": np.round(self.humidity[:, first:], 3).tolist(),
                           "units": self.units[:, first:].tolist(), "maintenance": self.maintenance[:, first:].tolist()})


def plant_day_ahead(first: PlanVersion, table: pd.DataFrame, day: PlantInstance) -> PlantVersion:
    """Version 0 of a plant from the one-press reader's version (versions.day_ahead) and the plan
    table: each room's setpoints (from its first press's rows), each press's own inputs."""
    rooms = [room.name for room in day.plant.rooms]
    room_of = [r for r, _ in day.machines]
    T = np.zeros((len(rooms), day.hours))
    H = np.zeros((len(rooms), day.hours))
    for r in range(len(rooms)):
        rows = table[table["press"] == room_of.index(r)].sort_values("hour")
        T[r], H[r] = rows["temperature_C"].to_numpy(float), rows["humidity_pct"].to_numpy(float)
    inputs = {name: press.fixed_inputs for name, (_, press) in zip(day.machine_names, day.machines)}
    return PlantVersion(0, first.trigger, first.line_time, 0, T, H, first.units, first.maintenance, first.count,
                        inputs, first.prices, first.status, first.gap, first.objective,
                        names=day.machine_names, rooms=rooms, room_of=room_of)
