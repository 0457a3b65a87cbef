"""Schema of conf/costs (option paper): revenue, penalty, cost coefficients and their sweep scales."""
from __future__ import annotations

from pipeline.core.settings.schema import NonNegative, Positive, Section


class MachineEnergy(Section):
    alpha_kwh_per_kN: NonNegative
    beta_kwh_per_rpm: NonNegative
    gamma_kwh_per_mm_s: NonNegative


class Costs(Section):
    revenue_per_tablet: NonNegative
    penalty_per_failed_tablet: NonNegative
    maintenance_cost: NonNegative
    temperature_cost: NonNegative
    humidity_cost: NonNegative
    usd_per_kwh_per_usd_per_mwh: Positive
    machine_energy: MachineEnergy
    maintenance_scale: NonNegative
    temperature_scale: NonNegative
    humidity_scale: NonNegative
