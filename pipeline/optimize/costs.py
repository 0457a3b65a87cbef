"""The schedule's money: cost coefficients from conf/costs and the objective's terms in numpy.

`cost_terms` is the one numpy copy of the objective, used by the verification (which checks
the solver's objective against it) and by the schedule table (which splits it per press and
hour). The Pyomo model (model.py) writes the same objective on its own, on purpose: that
independence is what makes the verification mean something.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from pipeline.optimize.instance import Instance


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
        return cls(float(costs.revenue_per_tablet), float(costs.penalty_per_failed_tablet),
                   float(costs.maintenance_cost) * float(costs.maintenance_scale),
                   float(costs.temperature_cost) * float(costs.temperature_scale),
                   float(costs.humidity_cost) * float(costs.humidity_scale))


def cost_terms(inst: Instance, values: dict, costs: Costs, p: np.ndarray) -> dict[str, np.ndarray]:
    """Every term of the objective per press and hour ([presses, hours], USD or kWh).

    Room energy (temperature, humidity) is shared by the presses: its terms are split evenly
    between their rows, so that each money term sums to its part of the objective."""
    x, b = values["x"].astype(float), values["b"].astype(float)
    usd_per_kwh = inst.price * inst.usd_per_kwh_per_usd_per_mwh
    start = inst.humidity_initial if inst.humidity_initial is not None else values["H"][0]
    prev_h = np.concatenate([[start], values["H"][:-1]])
    share = inst.room_share / inst.presses
    room = np.ones((inst.presses, 1))
    energy_t = room * (costs.temperature_kwh * np.abs(inst.outside_temperature - values["T"]) * share)
    energy_h = room * (costs.humidity_kwh * np.abs(values["H"] - prev_h) * share)
    energy_m = x * inst.machine_kwh_per_unit
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


def objective_parts(inst: Instance, values: dict, costs: Costs, p: np.ndarray) -> dict[str, float]:
    """The objective's decomposition in USD (sums of `cost_terms`)."""
    terms = cost_terms(inst, values, costs, p)
    return {name: float(terms[name].sum()) for name in MONEY}
