"""The study's schedule model in Pyomo, with the fault network embedded exactly.

One `SubModel` per assignment of the maintenance count N (per press and day): with N
enumerated, each hourly network copy sees two free inputs (T_t, H_t); with N a variable it
sees three. The network copies come from the encoding `optimize.formulation.network_encoding`
(encodings/); everything else is here, as named, indexed constraints:
- maintenance_count[k, d]: sum of b over day d = N[k, d];
- demand[d]: units made on day d >= D_d;
- capacity[k, t]: x + (X_max - capacity in a maintenance hour) b <= X_max;
- x_t p_t exact: x_t = sum_i 2^i u_ti with binaries u, w_ti = u_ti p_t through
  failed_units_link (w >= p - p_max (1 - u); the objective pushes w down), failed_units_floor
  (w >= p_min u) and failed_units_mccormick ((X_max - x)(p_max - p) >= 0): the last two are
  implied at integrality and keep the failure cost in the LP relaxation;
- p >= PWL(logit) (sigmoid.py) with a stated error bound;
- temperature_energy / humidity_energy: e >= |.| by epigraphs, exact for non-negative prices;
  hours with a negative price get a sign binary (..._exact).
Cost coefficients are mutable Params: `set_costs` changes them without rebuilding.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.encodings import NetworkEncoding, encoding_class
from pipeline.optimize.hour_values import HourValues, add_hour_value_cuts
from pipeline.optimize.instance import Instance
from pipeline.optimize.linear import lin
from pipeline.optimize.network import N_INPUT, FaultNetwork
from pipeline.optimize.sigmoid import add_sigmoid


@dataclass
class SubModel:
    n_fixed: dict[tuple[int, int], int | None]  # (press, day) -> N, or None when N is a variable
    model: pe.ConcreteModel
    encodings: dict[int | None, NetworkEncoding]
    build_seconds: float
    stats: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        values = sorted(set(self.n_fixed.values()), key=lambda v: -1 if v is None else v)
        return "N=" + ",".join("var" if v is None else str(v) for v in values)


@dataclass
class ScheduleModel:
    instance: Instance
    network: FaultNetwork
    options: DictConfig
    submodels: list[SubModel]
    bound_seconds: float
    warnings: list[str] = field(default_factory=list)
    build_seconds: float | None = None  # prepare()'s wall time: inputs, bounds and sub-models
    hour_values: dict = field(default_factory=dict)  # N -> HourValues (hour-value cuts), when used
    cut_seconds: float = 0.0            # the last set_costs: hour values and cuts for its costs
    costs: Costs | None = None          # the costs the sub-models hold now


def _abs_epigraphs(m, name: str, hours, diff: dict, span: float, negative: dict) -> None:
    """m.<name>[t] >= |diff[t]| for each hour: two indexed constraints, and (hours with a negative
    price, where the objective would push e up) two more with a sign binary that make it exact."""
    e, sign = getattr(m, name), getattr(m, name + "_sign")
    setattr(m, name + "_above", pe.Constraint(hours, rule=lambda m, t: e[t] >= diff[t]))
    setattr(m, name + "_below", pe.Constraint(hours, rule=lambda m, t: e[t] >= -diff[t]))
    exact = [t for t in hours if negative[t]]
    setattr(m, name + "_exact_pos", pe.Constraint(exact, rule=lambda m, t: e[t] <= diff[t] + 2 * span * (1 - sign[t])))
    setattr(m, name + "_exact_neg", pe.Constraint(exact, rule=lambda m, t: e[t] <= -diff[t] + 2 * span * sign[t]))


def _room(m, inst: Instance) -> None:
    """Setpoints T_t, H_t of the shared room and the |.| of their energy terms."""
    hours = range(inst.hours)
    m.T = pe.Var(hours, bounds=inst.temperature_box)
    m.H = pe.Var(hours, bounds=inst.humidity_box)
    t_span = max(abs(inst.temperature_box[1] - inst.outside_temperature.min()),
                 abs(inst.outside_temperature.max() - inst.temperature_box[0]))
    h_span = inst.humidity_box[1] - inst.humidity_box[0]
    m.eT = pe.Var(hours, bounds=(0, t_span))
    m.eH = pe.Var(hours, bounds=(0, h_span))
    m.eT_sign = pe.Var(hours, domain=pe.Binary)
    m.eH_sign = pe.Var(hours, domain=pe.Binary)
    negative = {t: bool(inst.price[t] < 0) for t in hours}
    for t in hours:
        if not negative[t]:
            m.eT_sign[t].fix(0)
            m.eH_sign[t].fix(0)
    _abs_epigraphs(m, "eT", hours, {t: inst.outside_temperature[t] - m.T[t] for t in hours}, t_span, negative)
    # H_{-1}: fixed at the configured start, or free (a decomposition's later day; fix_start)
    m.H_start = pe.Var(bounds=inst.humidity_box)
    fix_start(m, inst.humidity_initial)
    _abs_epigraphs(m, "eH", hours, {t: m.H[t] - (m.H_start if t == 0 else m.H[t - 1]) for t in hours}, h_span, negative)


def fix_start(m: pe.ConcreteModel, humidity: float | None) -> None:
    """The room's humidity before the first hour: a value, or None for free (no first-hour change cost)."""
    if humidity is None:
        m.H_start.unfix()
    else:
        m.H_start.fix(float(humidity))


def _production(m, inst: Instance, n_fixed: dict, encodings: dict) -> None:
    """Maintenance, units (bits u), p and w = u p, capacity and demand."""
    hours, presses, days = range(inst.hours), range(inst.presses), range(len(inst.days))
    bits = range(int(inst.max_per_hour).bit_length())
    X = inst.max_per_hour
    m.b = pe.Var(presses, hours, domain=pe.Binary)
    m.u = pe.Var(presses, hours, bits, domain=pe.Binary)
    m.p = pe.Var(presses, hours, bounds=(0, 1))
    m.w = pe.Var(presses, hours, bits, bounds=(0, 1))
    m.N = pe.Var(presses, days, domain=pe.Integers, bounds=lambda m, k, d: (inst.required_maintenance, _max_count(inst, d)))
    m.x = pe.Expression(presses, hours, rule=lambda m, k, t: sum(2 ** i * m.u[k, t, i] for i in bits))
    for (k, d), n in n_fixed.items():
        if n is not None:
            m.N[k, d].fix(n)
    m.maintenance_count = pe.Constraint(presses, days, rule=lambda m, k, d: lin(
        [1.0] * len(inst.days[d]) + [-1.0], [*(m.b[k, t] for t in inst.days[d]), m.N[k, d]]) == 0)
    m.demand = pe.Constraint(range(len(inst.demand_blocks)), rule=lambda m, d: lin(
        [2.0 ** i for k in presses for t in inst.demand_blocks[d] for i in bits],
        [m.u[k, t, i] for k in presses for t in inst.demand_blocks[d] for i in bits]) >= inst.demand[d])
    lost = X - inst.capacity_in_maintenance_hour
    m.capacity = pe.Constraint(presses, hours, rule=lambda m, k, t: lin(
        [2.0 ** i for i in bits] + [lost], [*(m.u[k, t, i] for i in bits), m.b[k, t]]) <= X)
    p_range = {}
    for k in presses:
        for t in hours:
            p_min, p_max = encodings[n_fixed[(k, inst.day_of(t))]].probability_range
            p_range[k, t] = p_min, p_max
            m.p[k, t].setlb(p_min)
            m.p[k, t].setub(p_max)
            for i in bits:
                m.w[k, t, i].setub(p_max)
    m.failed_units_link = pe.Constraint(presses, hours, bits, rule=lambda m, k, t, i: (
        m.w[k, t, i] >= m.p[k, t] - p_range[k, t][1] * (1 - m.u[k, t, i])))
    m.failed_units_floor = pe.Constraint(presses, hours, bits, rule=lambda m, k, t, i: (
        m.w[k, t, i] >= p_range[k, t][0] * m.u[k, t, i]))
    m.failed_units_mccormick = pe.Constraint(presses, hours, rule=lambda m, k, t: lin(
        [2.0 ** i for i in bits] + [-p_range[k, t][1] * 2.0 ** i for i in bits] + [-X],
        [*(m.w[k, t, i] for i in bits), *(m.u[k, t, i] for i in bits), m.p[k, t]], X * p_range[k, t][1]) >= 0)


def _networks(m, inst: Instance, n_fixed: dict, encodings: dict) -> None:
    """One network copy and its sigmoid per press and hour."""
    m.net = pe.Block(range(inst.presses), range(inst.hours))
    for k in range(inst.presses):
        for t in range(inst.hours):
            n_var = m.N[k, inst.day_of(t)]
            enc = encodings[n_fixed[(k, inst.day_of(t))]]
            free = {"temperature_C": m.T[t], "humidity_pct": m.H[t], N_INPUT: n_var}
            blk = m.net[k, t]
            add_sigmoid(blk, enc.sigmoid, enc.add(blk, free), m.p[k, t])


def _objective(m, inst: Instance, costs: Costs) -> None:
    """Profit (maximise, USD) with the cost coefficients as mutable Params (set_costs)."""
    hours, presses = range(inst.hours), range(inst.presses)
    bits = range(int(inst.max_per_hour).bit_length())
    m.R = pe.Param(mutable=True, initialize=costs.revenue)
    m.Cpen = pe.Param(mutable=True, initialize=costs.penalty)
    m.Cm = pe.Param(mutable=True, initialize=costs.maintenance)
    m.cT = pe.Param(mutable=True, initialize=costs.temperature_kwh)
    m.cH = pe.Param(mutable=True, initialize=costs.humidity_kwh)
    m.bonus = pe.Param(mutable=True, initialize=costs.unit_bonus)
    kappa = inst.usd_per_kwh_per_usd_per_mwh
    machine = [float(inst.price[t] * kappa * inst.machine_kwh_per_unit) for t in hours]  # USD per unit
    room = [float(inst.price[t] * kappa * inst.room_share) for t in hours]  # USD per kWh of room energy paid here
    m.profit = pe.Objective(sense=pe.maximize, expr=(
        pe.quicksum((m.R + m.bonus - machine[t]) * 2 ** i * m.u[k, t, i] for k in presses for t in hours for i in bits)
        - pe.quicksum((m.R + m.Cpen) * 2 ** i * m.w[k, t, i] for k in presses for t in hours for i in bits)
        - pe.quicksum(m.Cm * m.b[k, t] for k in presses for t in hours)
        - pe.quicksum(room[t] * m.cT * m.eT[t] for t in hours)
        - pe.quicksum(room[t] * m.cH * m.eH[t] for t in hours)))


def build_submodel(inst: Instance, n_fixed: dict, encodings: dict, costs: Costs) -> pe.ConcreteModel:
    m = pe.ConcreteModel(name="tablet_schedule")
    _room(m, inst)
    _production(m, inst, n_fixed, encodings)
    _networks(m, inst, n_fixed, encodings)
    _objective(m, inst, costs)
    return m


def _max_count(inst: Instance, day: int) -> int:
    """At most one maintenance per hour: a short day block caps N below max_per_day."""
    return min(inst.max_maintenance, len(inst.days[day]))


def _assignments(inst: Instance, opts: DictConfig) -> list[dict]:
    keys = [(k, d) for k in range(inst.presses) for d in range(len(inst.days))]
    enumerate_n = bool(opts.enumerate_maintenance_count) and encoding_class(str(opts.network_encoding)).enumerates_maintenance
    if enumerate_n and len(keys) == 1:
        return [{keys[0]: n} for n in range(inst.required_maintenance, _max_count(inst, 0) + 1)]
    return [{key: None for key in keys}]


def model_stats(m: pe.ConcreteModel) -> dict:
    vars_ = [v for v in m.component_data_objects(pe.Var, active=True) if not v.fixed]
    return {"variables": len(vars_),
            "binaries": sum(1 for v in vars_ if v.is_binary()),
            "integers": sum(1 for v in vars_ if v.is_integer() and not v.is_binary()),
            "constraints": sum(1 for _ in m.component_data_objects(pe.Constraint, active=True))}


def shared_parts(inst: Instance, net: FaultNetwork, opts: DictConfig) -> tuple[list[dict], dict, dict]:
    """The N assignments, one encoding per N value (bounds, sigmoid pieces) and, where the
    cuts apply, one HourValues per N: what every day of a horizon can share."""
    assignments = _assignments(inst, opts)
    values = sorted({v for a in assignments for v in a.values()}, key=lambda v: -1 if v is None else v)
    encoder = encoding_class(str(opts.network_encoding))
    encodings = {v: encoder(net, inst, v, opts) for v in values}
    hour_values = {}
    if _hour_value_cuts(inst, opts, assignments):
        hour_values = {v: HourValues(encodings[v], int(opts.hour_value_strips)) for v in values}
    return assignments, encodings, hour_values


def build_schedule_model(inst: Instance, net: FaultNetwork, costs: Costs, opts: DictConfig,
                         shared: tuple | None = None) -> ScheduleModel:
    """Bounds once per N assignment (shared by all hourly copies), then one Pyomo model per
    assignment; `shared` (from shared_parts) skips the first part."""
    start = time.perf_counter()
    assignments, encodings, hour_values = shared or shared_parts(inst, net, opts)
    bound_seconds = time.perf_counter() - start
    subs = []
    for a in assignments:
        t0 = time.perf_counter()
        model = build_submodel(inst, a, encodings, costs)
        sub = SubModel(a, model, {v: encodings[v] for v in set(a.values())}, time.perf_counter() - t0)
        sub.stats = model_stats(model)
        subs.append(sub)
    schedule = ScheduleModel(inst, net, opts, subs, bound_seconds, hour_values=hour_values)
    set_costs(schedule, costs)
    return schedule


def _hour_value_cuts(inst: Instance, opts: DictConfig, assignments: list[dict]) -> bool:
    """The cuts need one press, one day block and N fixed per sub-model (two free network inputs)."""
    single = inst.presses == 1 and len(inst.days) == 1
    return bool(opts.hour_value_cuts) and single and all(v is not None for a in assignments for v in a.values())


def set_costs(schedule: ScheduleModel, costs: Costs) -> None:
    """New cost coefficients for every sub-model, without rebuilding or re-tightening; the
    hour-value cuts (which depend on the costs) are recomputed from the cached vertices."""
    start = time.perf_counter()
    for sub in schedule.submodels:
        m = sub.model
        m.R.set_value(costs.revenue)
        m.Cpen.set_value(costs.penalty)
        m.Cm.set_value(costs.maintenance)
        m.cT.set_value(costs.temperature_kwh)
        m.cH.set_value(costs.humidity_kwh)
        m.bonus.set_value(costs.unit_bonus)
        if schedule.hour_values:
            n_of_hour = [sub.n_fixed[(0, 0)]] * schedule.instance.hours
            add_hour_value_cuts(m, schedule.hour_values, n_of_hour, costs, schedule.instance)
    schedule.cut_seconds = time.perf_counter() - start
    schedule.costs = costs


def unstable_counts(schedule: ScheduleModel) -> dict:
    """Unstable neurons per network copy, with interval bounds and with the tightened ones."""
    return {("var" if v is None else str(v)): enc.stats()
            for sub in schedule.submodels for v, enc in sub.encodings.items()}
