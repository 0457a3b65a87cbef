"""What a day the presses actually ran is worth: the objective's own terms (costs.cost_terms) on
what was made, at the prices that held, with a failure model the caller chooses.

The benchmark passes the fault generator's true failure probability (the planner never sees it);
the maintenance count N of every hour is the day's realised count, as the study's model (and the
planner) reads it; the machine energy per unit uses each hour's measured press inputs; a unit of
the day's demand not made costs `shortfall_usd_per_unit` (conf/replan). Expected failures, not a
draw: the comparison of two days does not depend on a coin.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.press_signals import MEASURED
from pipeline.contracts.costs import machine_kwh_per_unit
from pipeline.optimize.costs import Costs, cost_terms
from pipeline.optimize.instance import PlantInstance
from pipeline.optimize.network import FEATURES, N_INPUT

RECORD_COLUMNS = ("press", "hour", "units", "maintenance", *MEASURED, "temperature_C", "humidity_pct",
                  "price_usd_per_mwh")


def realised_profit(record: pd.DataFrame, day: PlantInstance, costs: Costs, energy: DictConfig,
                    failure_probability: Callable[[pd.DataFrame], np.ndarray], shortfall_usd_per_unit: float) -> dict:
    """The day's realised profit and its parts (USD) from one row per press and hour (RECORD_COLUMNS)."""
    missing = [c for c in RECORD_COLUMNS if c not in record.columns]
    if missing:
        raise ValueError(f"a day's record needs columns {missing}")
    record = record.sort_values(["press", "hour"])
    K, H = day.presses, day.hours
    if len(record) != K * H or record[["temperature_C", "humidity_pct"]].isna().any().any():
        raise ValueError(f"a day's record needs every hour of {K} press(es) x {H} hours, setpoints included")
    grid = lambda column: record[column].to_numpy(float).reshape(K, H)  # noqa: E731
    units, maint = grid("units"), grid("maintenance")
    count = maint.sum(axis=1, keepdims=True) * np.ones((1, H))
    frame = record.assign(**{N_INPUT: count.ravel()})[list(FEATURES)]
    p = np.asarray(failure_probability(frame), float).reshape(K, H)
    machine = machine_kwh_per_unit(energy, {s: grid(s) for s in MEASURED})
    room = record[record["press"] == record["press"].min()]
    inst = replace(day, price=room["price_usd_per_mwh"].to_numpy(float))
    values = {"T": room["temperature_C"].to_numpy(float), "H": room["humidity_pct"].to_numpy(float),
              "x": units, "b": maint}
    terms = cost_terms(inst, values, costs, p, machine_kwh=machine)
    short = max(int(day.demand[0]) - int(units.sum()), 0) if len(day.demand) == 1 else 0
    parts = {name: float(terms[name].sum()) for name in ("revenue", "penalty", "maintenance_cost", "energy_cost")}
    parts["shortfall_cost"] = short * float(shortfall_usd_per_unit)
    profit = float(terms["profit"].sum()) - parts["shortfall_cost"]
    return {"profit_usd": profit, **{f"{k}_usd": v for k, v in parts.items()}, "units": int(units.sum()),
            "units_short": short, "maintenances": int(maint.sum()), "expected_failed_units": float((units * p).sum())}
