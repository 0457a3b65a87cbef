"""The rest of the day as a schedule instance: the past fixed, the remaining hours free.

`remaining_instance(day, progress, energy)` is the one function the live planner builds its
instances with. It calls nothing new in the optimiser: the remaining hours are a `PlantInstance`
like any other (instance.py: the plant of one room and one press), with
- the hours from `progress.first_hour` on, at the prices now known;
- the demand less the units already made (and still expected in committed hours), capped at
  what the remaining hours can make (the rest is returned as a shortfall, never hidden);
- the press's maintenance bounds less the maintenances already done: N' = N - done in
  [required - done, max - done];
- the humidity of the committed hour as H_{-1}, and the press inputs now believed (P, S, V),
  with the energy per unit at those inputs (contracts/costs.machine_kwh_per_unit) unless the
  plant states the press's own.
The fault network counts the whole day's maintenances (N = done + N'): `counted_network(net,
done)` shifts its maintenance input's scaling offset by `done`, so each hourly copy, the bounds,
the hour-value cuts and the verification with onnxruntime all see N = done + N' while the
formulation sums only the remaining hours' maintenance (exact: the scaling is affine).

The study's model lets the day's count N set every hour's failure probability, the past hours'
too: a maintenance still to come lowers the expected failures of units already made. That part of
the day's objective still depends on the decisions left; `past_failure_cost` gives it per N, and
the re-plan adds it to each sub-model's objective (resolve.py).

One press, one day (optimize/plant=single): the planner's state, triggers, start schedules and
plan versions are one press's. A plant of several presses is re-planned by plant_replan.py
(`PlantInstance.remaining` and the optimiser's decomposition).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from omegaconf import DictConfig

from pipeline.contracts.costs import machine_kwh_per_unit
from pipeline.optimize.costs import Costs
from pipeline.optimize.instance import PlantInstance
from pipeline.optimize.plant import Plant, Press
from pipeline.optimize.network import FEATURES, N_INPUT, FaultNetwork
from pipeline.optimize.sigmoid import sigmoid


@dataclass
class Progress:
    """What a re-plan knows about the day so far."""

    first_hour: int                 # first hour re-planned; the hours before are past or committed
    units_made: int                 # counted toward the day's demand (made + still expected in committed hours)
    maintenances_done: int          # counted toward the day's maintenance count (done + expected in committed hours)
    humidity_start: float           # H before first_hour: the committed hour's setpoint, %RH
    inputs: dict[str, float]        # pressure_kN, speed_rpm, vibration_mm_s the remaining hours are planned at
    prices: np.ndarray              # the day's hourly prices as now known (every hour of the day), USD/MWh


@dataclass
class PastHours:
    """The hours before the re-planned ones (done, or committed), as the day's failure cost sees them."""

    units: np.ndarray                   # units per hour (made, or still expected in the committed hour)
    temperature: np.ndarray             # room setpoints applied, C
    humidity: np.ndarray                # %RH
    inputs: dict[str, np.ndarray]       # P, S, V per hour (measured means; the committed hour: believed now)


def past_failure_cost(net: FaultNetwork, past: PastHours | None, n_total: int, costs: Costs) -> float:
    """(R + C_pen) sum_t x_t p_t(N) over the past hours, N = the day's maintenance count (USD)."""
    if past is None or not np.asarray(past.units).any():
        return 0.0
    columns = {**past.inputs, "temperature_C": past.temperature, "humidity_pct": past.humidity,
               N_INPUT: np.full(len(past.units), float(n_total))}
    raw = np.column_stack([np.asarray(columns[name], float) for name in FEATURES])
    return (costs.revenue + costs.penalty) * float((np.asarray(past.units, float) * sigmoid(net.logit(raw))).sum())


def check_day(day: PlantInstance) -> None:
    """This module re-plans one press over one day block with one demand (several: plant_replan.py)."""
    if day.presses != 1:
        raise ValueError(f"the plant has {day.presses} presses: remaining.py re-plans one press "
                         "(a plant of several: pipeline/optimize/live/plant_replan.py)")
    if len(day.days) != 1 or len(day.demand_blocks) != 1:
        raise ValueError(f"optimize.horizon_hours = {day.hours}: the live planner re-plans one day (at most 24 hours)")


def the_press(day: PlantInstance) -> Press:
    """The one press of a live planner's day (check_day)."""
    return day.machines[0][1]


def counted_network(net: FaultNetwork, done: int) -> FaultNetwork:
    """`net` with its maintenance input counting `done` maintenances already made: fed N', it
    computes what `net` computes at N = done + N' (the same ONNX graph; only the scaling moves)."""
    if done == 0:
        return net
    i = FEATURES.index(N_INPUT)
    offset = np.array(net.offset, float)
    offset[i] -= done
    shift = np.zeros(len(FEATURES))
    shift[i] = done
    return replace(net, offset=offset,
                   train_min=None if net.train_min is None else np.asarray(net.train_min, float) - shift,
                   train_max=None if net.train_max is None else np.asarray(net.train_max, float) - shift)


def remaining_instance(day: PlantInstance, progress: Progress, energy: DictConfig) -> tuple[PlantInstance, int]:
    """(the instance of the hours from progress.first_hour on, units of the demand it cannot make).

    `energy` is conf/costs machine_energy (the press inputs change the energy per unit)."""
    check_day(day)
    first = int(progress.first_hour)
    if not 0 < first < day.hours:
        raise ValueError(f"first hour {first}: a re-plan covers hours 1..{day.hours - 1} of the day")
    press, room = the_press(day), day.plant.rooms[0]
    hours = np.arange(first, day.hours)
    n = len(hours)
    done = int(progress.maintenances_done)
    required = min(max(press.required_maintenance - done, 0), n)
    most = max(press.max_maintenance - done, required)
    lost = press.max_per_hour - press.capacity_in_maintenance_hour
    capacity = n * press.max_per_hour - required * lost
    owed = max(int(day.demand[0]) - int(progress.units_made), 0)
    demand = min(owed, capacity)
    prices = np.asarray(progress.prices, float)
    if prices.shape != (day.hours,):
        raise ValueError(f"{prices.shape[0] if prices.ndim else 0} prices for a {day.hours}-hour day")
    inputs = {name: float(progress.inputs[name]) for name in press.fixed_inputs}
    stated = press.machine_kwh_per_unit != machine_kwh_per_unit(energy, press.fixed_inputs)  # the plant's own figure
    kwh = press.machine_kwh_per_unit if stated else float(machine_kwh_per_unit(energy, inputs))
    now = replace(press, fixed=tuple(inputs.items()), machine_kwh_per_unit=kwh, required_maintenance=required,
                  max_maintenance=most)
    humidity = float(np.clip(progress.humidity_start, *room.humidity_box))  # a solver's plan may sit 1e-7 outside
    plant = Plant((replace(room, presses=(now,)),), day.plant.source, day.plant.networks)
    inst = replace(day, plant=plant, timestamps=day.timestamps[hours], price=prices[hours],
                   outside_temperature=day.outside_temperature[hours], days=[np.arange(n)], demand=[demand],
                   demand_blocks=[np.arange(n)], humidity_initial=(humidity,), maintenance_done=None)
    return inst, owed - demand
