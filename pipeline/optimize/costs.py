"""The schedule's money: cost coefficients from conf/costs and the objective's terms in numpy.

Which coefficients exist, their conf keys and sweep scales are declared once in
pipeline/contracts/costs.py; `Costs` holds their effective values (scales applied).

`cost_terms` is the one numpy copy of the objective, used by the verification (which checks
the solver's objective against it) and by the schedule table (which splits it per press and
hour). The Pyomo model (formulation.py) writes the same objective on its own, on purpose: that
independence is what makes the verification mean something.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from pipeline.contracts.costs import COEFFICIENTS, effective
from pipeline.optimize.instance import PlantInstance


@dataclass
class Costs:
    """Effective coefficients (scales applied), USD and kWh per unit of energy input."""

    revenue: float
    penalty: float
    maintenance: float
    temperature_kwh: float
    humidity_kwh: float
    unit_bonus: float = 0.0  # a decomposition's Lagrangian price per unit made (0 in every real objective)

    @classmethod
    def from_cfg(cls, costs: DictConfig) -> "Costs":
        return cls(**effective(costs))

    def coefficients(self) -> dict[str, float]:
        """{symbol: value} of every declared coefficient (the formulation's Params)."""
        return {c.symbol: getattr(self, c.field) for c in COEFFICIENTS}


def cost_terms(inst: PlantInstance, values: dict, costs: Costs, p: np.ndarray,
               machine_kwh: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every term of the objective per press and hour ([machines, hours], USD or kWh).

    A room's energy (temperature, humidity) is shared by its presses: its terms are split evenly
    between their rows, so that each money term sums to its part of the objective. `values` holds
    T, H as [rooms, hours] and x, b as [machines, hours]. `machine_kwh` ([machines, hours]) replaces
    each press's energy per unit where it varied by the hour (a realised day's measured inputs)."""
    x, b = values["x"].astype(float), values["b"].astype(float)
    usd_per_kwh = inst.price * inst.usd_per_kwh_per_usd_per_mwh
    T, H = np.atleast_2d(values["T"]), np.atleast_2d(values["H"])
    start = np.asarray(inst.humidity_initial, float)[:, None]
    prev_h = np.concatenate([start, H[:, :-1]], axis=1)
    room_of = np.array([r for r, _ in inst.machines])
    per_room = np.bincount(room_of, minlength=len(inst.plant.rooms))[room_of][:, None]
    energy_t = costs.temperature_kwh * np.abs(inst.outside_temperature - T)[room_of] / per_room
    energy_h = costs.humidity_kwh * np.abs(H - prev_h)[room_of] / per_room
    if machine_kwh is None:
        machine_kwh = np.array([press.machine_kwh_per_unit for _, press in inst.machines])[:, None]
    energy_m = x * machine_kwh
    terms = {
        "revenue": costs.revenue * x * (1 - p),
        "penalty": costs.penalty * x * p,
        "maintenance_cost": costs.maintenance * b,
        "energy_temperature_kwh": energy_t,
        "energy_humidity_kwh": energy_h,
        "energy_machine_kwh": energy_m,
        "energy_cost_temperature": usd_per_kwh * energy_t,
        "energy_cost_humidity": usd_per_kwh * energy_h,
        "energy_cost_machine": usd_per_kwh * energy_m,
    }
    terms["energy_cost"] = terms["energy_cost_temperature"] + terms["energy_cost_humidity"] + terms["energy_cost_machine"]
    terms["profit"] = terms["revenue"] - terms["penalty"] - terms["maintenance_cost"] - terms["energy_cost"]
    return terms


MONEY = ("revenue", "penalty", "maintenance_cost", "energy_cost_temperature", "energy_cost_humidity",
         "energy_cost_machine", "energy_cost", "profit")


def objective_parts(inst: PlantInstance, values: dict, costs: Costs, p: np.ndarray) -> dict[str, float]:
    """The objective's decomposition in USD (sums of `cost_terms`)."""
    terms = cost_terms(inst, values, costs, p)
    return {name: float(terms[name].sum()) for name in MONEY}
