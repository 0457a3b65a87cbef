"""The schedule's cost coefficients, declared once (conf/costs holds their values).

Each coefficient of the objective names its conf/costs key, the key of its sweep scale (if the
sweep may scale it) and its unit. Everything that handles costs reads this table: the
optimiser's `Costs` (pipeline/optimize/costs.py) and through it the formulation's mutable
Params, the hour-value cuts, the decomposition and the verification; the sweep (grid, job
markers, point table, MLflow params) for the names of the scales. A new swept cost is one line
here and its two keys in conf/costs.

The machine energy per unit of a press is the sum of a coefficient per fixed input (MACHINE_ENERGY)
times that input (conf/costs machine_energy), unless the press states its own (plant description).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Coefficient:
    name: str            # what the sweep and the messages call it (conf/sweep `costs`)
    field: str           # the optimiser's Costs attribute
    key: str             # conf/costs key of the base value
    scale: str | None    # conf/costs key of its sweep scale (None: not swept)
    unit: str
    symbol: str          # the study's symbol (and the Pyomo Param's name)


COEFFICIENTS: tuple[Coefficient, ...] = (
    Coefficient("revenue", "revenue", "revenue_per_tablet", None, "USD per unit", "R"),
    Coefficient("penalty", "penalty", "penalty_per_failed_tablet", None, "USD per failed unit", "Cpen"),
    Coefficient("maintenance", "maintenance", "maintenance_cost", "maintenance_scale", "USD per maintenance", "Cm"),
    Coefficient("temperature", "temperature_kwh", "temperature_cost", "temperature_scale",
                "kWh per C of |T_out - T| and hour", "cT"),
    Coefficient("humidity", "humidity_kwh", "humidity_cost", "humidity_scale", "kWh per %RH of |H_t - H_t-1|", "cH"),
)
SWEPT: dict[str, Coefficient] = {c.name: c for c in COEFFICIENTS if c.scale}
USD_PER_KWH_KEY = "usd_per_kwh_per_usd_per_mwh"  # conf/costs: 1 USD/MWh in USD/kWh
# fixed input of a press -> conf/costs machine_energy key of its kWh per unit and input unit
MACHINE_ENERGY: dict[str, str] = {"pressure_kN": "alpha_kwh_per_kN", "speed_rpm": "beta_kwh_per_rpm",
                                  "vibration_mm_s": "gamma_kwh_per_mm_s"}


def scale_key(cost: str) -> str:
    """The conf/costs key that scales `cost` (a name of SWEPT); a one-line error otherwise."""
    if cost not in SWEPT:
        raise ValueError(f"cost {cost!r} has no sweep scale; the swept costs are {sorted(SWEPT)}")
    return SWEPT[cost].scale


def scales_of(costs: Mapping) -> dict[str, float]:
    """{cost: scale} of every declared scale present in a `costs` config."""
    return {c.name: float(costs[c.scale]) for c in SWEPT.values() if c.scale in costs}


def swept_by(param: str) -> str | None:
    """The cost a flat override key scales (`costs.maintenance_scale` -> 'maintenance'), else None."""
    for c in SWEPT.values():
        if param == f"costs.{c.scale}":
            return c.name
    return None


def effective(costs: Mapping) -> dict[str, float]:
    """{field: base value x scale} of every coefficient of a `costs` config."""
    return {c.field: float(costs[c.key]) * (float(costs[c.scale]) if c.scale else 1.0) for c in COEFFICIENTS}


def machine_kwh_per_unit(machine_energy: Mapping, fixed: Mapping):
    """alpha P + beta S + gamma V: the energy a press needs per unit at its inputs `fixed` (floats;
    or numpy arrays of them, e.g. a realised day's measured inputs per press and hour, giving an
    array of that shape)."""
    total = 0.0
    for name, key in MACHINE_ENERGY.items():
        value = fixed[name]
        total = total + float(machine_energy[key]) * (value if hasattr(value, "shape") else float(value))
    return total
