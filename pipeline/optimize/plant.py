"""The plant as data: rooms (a climate box each) and the presses in them (a fault network, fixed
inputs, capacity, energy and maintenance limits each), checked before anything is built.

A plant comes from the config group `optimize/plant` (conf/optimize/plant/<name>.yaml: `single`
is the study's one press, `mixed` two rooms of different presses) or from a file given as
`optimize.plant_file=/abs/plant.yaml` (same keys; its relative network paths are read beside the
file, so a network trained elsewhere travels with its sidecar YAML). Every key a room or press
leaves out takes the flat optimize key of the same meaning (optimize.temperature_C,
humidity_pct, network_file, fixed_inputs, production, maintenance, presses), so `single`, which
leaves them all out, is exactly today's model. A mistake is one line that names the plant, the
room or press and the key:

    plant conf optimize.plant, room 'north', press 'P2': max_per_hour = 0: allowed a whole number >= 1

Presses of the same kind (identical network, inputs, capacity, energy and limits, in rooms with
the same climate box) are one sub-problem for the decomposition (decompose.py).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from pipeline.contracts.costs import machine_kwh_per_unit
from pipeline.contracts.plant_file import MAX_PRESSES, PlantError, plant_spec
from pipeline.core.settings.optimize import FixedInputs, HumidityBox, Maintenance, Optimize, Production
from pipeline.core.settings.schema import bounds
from pipeline.core.validation import shown
from pipeline.optimize.network import FEATURES, N_INPUT

FIXED_INPUTS = tuple(n for n in FEATURES if n not in ("temperature_C", "humidity_pct", N_INPUT))
ROOM_KEYS = {"name", "temperature_C", "humidity_pct", "presses"}
PRESS_KEYS = {"name", "network_file", "fixed_inputs", "max_per_hour", "maintenance_hours", "energy_kwh_per_unit",
              "maintenance", "count"}
ROOM_TEMPERATURE_C = (-50.0, 100.0)  # a room's temperature box lies inside this (the flat key's schema has no range)
# A key a press shares with a flat optimize key is held to that key's range in the schema
# (pipeline/core/settings/optimize.py): one home for each range.


@dataclass(frozen=True)
class Press:
    """One kind of press; `count` identical ones stand in its room."""

    name: str
    network_file: Path
    fixed: tuple[tuple[str, float], ...]   # (input, value) for pressure_kN, speed_rpm, vibration_mm_s
    max_per_hour: int                      # X_max, units per hour
    maintenance_hours: float               # m: a maintenance hour makes X_max (1 - m) at most
    machine_kwh_per_unit: float
    required_maintenance: int              # per day
    max_maintenance: int                   # per day
    count: int = 1

    @property
    def fixed_inputs(self) -> dict[str, float]:
        return dict(self.fixed)

    @property
    def capacity_in_maintenance_hour(self) -> int:
        return math.floor(self.max_per_hour * (1.0 - self.maintenance_hours) + 1e-9)

    @property
    def kind(self) -> tuple:
        """Everything that shapes its sub-problem (not its name or count)."""
        return (str(self.network_file), self.fixed, self.max_per_hour, self.maintenance_hours,
                self.machine_kwh_per_unit, self.required_maintenance, self.max_maintenance)


@dataclass(frozen=True)
class Room:
    name: str
    temperature_box: tuple[float, float]
    humidity_box: tuple[float, float]
    humidity_initial: float
    presses: tuple[Press, ...]


@dataclass(frozen=True)
class Plant:
    rooms: tuple[Room, ...]
    source: str = "optimize.plant"
    networks: tuple[Path, ...] = field(default=())  # every distinct network file, in order

    @property
    def presses(self) -> list[tuple[Room, Press]]:
        return [(room, press) for room in self.rooms for press in room.presses]

    @property
    def machines(self) -> int:
        """Physical presses (counts included)."""
        return sum(p.count for _, p in self.presses)

    @property
    def is_single_press(self) -> bool:
        return self.machines == 1


# --- reading and checking ------------------------------------------------------------------


class _Where:
    """The place a problem is found, for the one-line message."""

    def __init__(self, source: str, room: str | None = None, press: str | None = None):
        self.source, self.room, self.press = source, room, press

    def error(self, key: str, value, allowed: str) -> PlantError:
        parts = [f"plant {self.source}"]
        if self.room is not None:
            parts.append(f"room {self.room!r}")
        if self.press is not None:
            parts.append(f"press {self.press!r}")
        return PlantError(f"{', '.join(parts)}: {key} = {shown(value)}: allowed {allowed}")


def _number(where: _Where, key: str, value, low: float | None = None, high: float | None = None,
            integer: bool = False, low_open: bool = False, allowed: str | None = None) -> float:
    kind = "whole number" if integer else "number"
    limits = " and ".join(p for p in (
        f"{'>' if low_open else '>='} {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else "") if p)
    allowed = allowed or f"a {kind} {limits}".strip()
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
    ok = ok and (not integer or float(value) == int(value))
    ok = ok and (low is None or (value > low if low_open else value >= low)) and (high is None or value <= high)
    if not ok:
        raise where.error(key, value, allowed)
    return int(value) if integer else float(value)


def _ranged(where: _Where, key: str, value, model, field: str | None = None, integer: bool = False) -> float:
    """`value` checked against the range of the flat knob `field` (default: the key's last part) of
    the schema `model`."""
    low, high, low_open, words = bounds(model, field or key.rsplit(".", 1)[-1])
    return _number(where, key, value, low, high, integer=integer, low_open=low_open, allowed=words)


def _mapping(where: _Where, key: str, value, allowed_keys: set[str]) -> dict:
    if not isinstance(value, Mapping):
        raise where.error(key, value, f"a mapping with keys {sorted(allowed_keys)}")
    unknown = sorted(set(map(str, value)) - allowed_keys)
    if unknown:
        raise where.error(f"{key}.{unknown[0]}" if key else unknown[0], value[unknown[0]],
                          f"only the keys {sorted(allowed_keys)} (a typo?)")
    return {str(k): v for k, v in value.items()}


def _name(where: _Where, key: str, value, seen: set[str]) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64 or any(c in value for c in "\n\r\t,"):
        raise where.error(key, value, "a name of 1-64 characters without commas, tabs or line breaks")
    if value in seen:
        raise where.error(key, value, "a name not used twice in the plant")
    seen.add(value)
    return value


def _named(where: _Where, what: str, spec, allowed: set[str], names: set[str], inside) -> dict:
    """A room's or press's mapping: its name first (so every later message names it), then its keys."""
    if not isinstance(spec, Mapping):
        raise where.error(what, spec, f"a mapping with keys {sorted(allowed)}")
    name = _name(where, "name", spec.get("name"), names)
    return _mapping(inside(name), "", spec, allowed)


def _box(where: _Where, key: str, given, default: Mapping, low: float, high: float,
         initial: bool = False) -> tuple[tuple[float, float], float | None]:
    keys = {"min", "max", "initial"} if initial else {"min", "max"}
    merged = {**{k: default[k] for k in keys if k in default}, **_mapping(where, key, given or {}, keys)}
    lo = _number(where, f"{key}.min", merged.get("min"), low, high)
    hi = _number(where, f"{key}.max", merged.get("max"), low, high)
    if not lo < hi:
        raise where.error(f"{key}.min", lo, f"a value below {key}.max = {hi:g}")
    start = _number(where, f"{key}.initial", merged.get("initial"), lo, hi) if initial else None
    return (lo, hi), start


def _network(where: _Where, value, base: Path) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise where.error("network_file", value, "the path of an ONNX file (ours, or one with a sidecar YAML beside it)")
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise where.error("network_file", value, f"an existing ONNX file; {path} does not exist")
    return path.resolve()


def _press(where: _Where, spec, defaults: DictConfig, costs: DictConfig, base: Path, models: Path,
           names: set[str]) -> Press:
    spec = _named(where, "press", spec, PRESS_KEYS, names, lambda name: _Where(where.source, where.room, name))
    where = _Where(where.source, where.room, spec["name"])
    fixed_given = _mapping(where, "fixed_inputs", spec.get("fixed_inputs") or {}, set(FIXED_INPUTS))
    fixed = {name: _ranged(where, f"fixed_inputs.{name}", fixed_given.get(name, defaults.fixed_inputs[name]),
                           FixedInputs, name) for name in FIXED_INPUTS}
    prod = defaults.production
    x_max = _ranged(where, "max_per_hour", spec.get("max_per_hour", prod.max_per_hour), Production, integer=True)
    m = _ranged(where, "maintenance_hours", spec.get("maintenance_hours", prod.maintenance_hours), Production)
    energy = spec.get("energy_kwh_per_unit")
    energy = (machine_kwh_per_unit(costs.machine_energy, fixed) if energy is None
              else _number(where, "energy_kwh_per_unit", energy, 0))
    maint = _mapping(where, "maintenance", spec.get("maintenance") or {}, {"required_per_day", "max_per_day"})
    req = _ranged(where, "maintenance.required_per_day",
                  maint.get("required_per_day", defaults.maintenance.required_per_day), Maintenance, integer=True)
    most = _ranged(where, "maintenance.max_per_day", maint.get("max_per_day", defaults.maintenance.max_per_day),
                   Maintenance, integer=True)
    if req > most:  # the schema's order rule (settings/optimize.Maintenance), for a press's own pair
        raise where.error("maintenance.required_per_day", req, f"at most maintenance.max_per_day = {most}")
    count = _ranged(where, "count", spec.get("count", defaults.presses), Optimize, "presses", integer=True)
    given = spec.get("network_file")  # relative: beside the plant file; left out: optimize.network_file
    network = _network(where, given, base) if given is not None else _network(where, str(models / str(defaults.network_file)), Path())
    return Press(where.press, network, tuple(fixed.items()), x_max, m, energy, req, most, count)


def _room(where: _Where, spec, defaults: DictConfig, costs: DictConfig, base: Path, models: Path,
          rooms: set[str], presses: set[str]) -> Room:
    spec = _named(where, "room", spec, ROOM_KEYS, rooms, lambda name: _Where(where.source, name))
    where = _Where(where.source, spec["name"])
    t_box, _ = _box(where, "temperature_C", spec.get("temperature_C"), defaults.temperature_C, *ROOM_TEMPERATURE_C)
    h_box, h0 = _box(where, "humidity_pct", spec.get("humidity_pct"), defaults.humidity_pct,
                     *bounds(HumidityBox, "min")[:2], initial=True)
    listed = spec.get("presses")
    if not isinstance(listed, list) or not listed:
        raise where.error("presses", listed, "a non-empty list of presses (name, network_file, ...)")
    return Room(where.room, t_box, h_box, h0, tuple(_press(where, p, defaults, costs, base, models, presses) for p in listed))


def plant_from(spec, defaults: DictConfig, costs: DictConfig, base: Path, models: Path, source: str) -> Plant:
    """A checked Plant from a mapping with `rooms` (see the module); `defaults` is cfg.optimize
    (the flat keys fill what a room or press leaves out), `base` the folder of relative network
    paths, `models` the folder of optimize.network_file (paths.models)."""
    where = _Where(source)
    spec = _mapping(where, "", spec, {"rooms"})
    listed = spec.get("rooms")
    if not isinstance(listed, list) or not listed:
        raise where.error("rooms", listed, "a non-empty list of rooms, each with a name and its presses")
    rooms, presses = set(), set()
    plant = tuple(_room(where, r, defaults, costs, base, models, rooms, presses) for r in listed)
    total = sum(p.count for r in plant for p in r.presses)
    if total > MAX_PRESSES:
        raise where.error("rooms", f"{total} presses", f"at most {MAX_PRESSES} presses in all (counts included)")
    networks = tuple(dict.fromkeys(p.network_file for r in plant for p in r.presses))
    return Plant(plant, source, networks)


def load_plant(cfg: DictConfig) -> Plant:
    """The plant of `cfg.optimize`: `plant_file` when set, else the config group's `plant`
    (pipeline/contracts/plant_file.plant_spec). A file's relative network paths are read beside it."""
    spec, source, path = plant_spec(cfg.optimize)
    models = Path(cfg.paths.models)
    return plant_from(spec, cfg.optimize, cfg.costs, models if path is None else path.parent, models, source)
