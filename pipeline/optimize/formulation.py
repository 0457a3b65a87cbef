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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.encodings import NetworkEncoding, encoding_class
from pipeline.optimize.hour_values import HourValues, add_hour_value_cuts
from pipeline.optimize.instance import Instance
from pipeline.optimize.linear import lin
from pipeline.optimize.network import N_INPUT, FaultNetwork
from pipeline.optimize.plant import Press
from pipeline.optimize.sigmoid import add_sigmoid


Key = tuple[int, int | None]  # (press kind index in Instance.kinds, maintenance count N or None)


@dataclass
class SubModel:
    """One assignment of the maintenance counts; its Pyomo model is built on first use (a
    sub-model the DP or an LP bound settles never is) and its hour-value cuts when a solve needs
    them (`ensure_cuts`)."""

    n_fixed: dict[tuple[int, int], int | None]  # (press, day) -> N, or None when N is a variable
    encodings: dict[Key, NetworkEncoding]
    build_seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    _model: pe.ConcreteModel | None = field(default=None, repr=False)
    _build: Callable | None = field(default=None, repr=False)
    cuts_costs: Costs | None = None  # the costs its hour-value cuts hold (None: none active)

    @property
    def model(self) -> pe.ConcreteModel:
        if self._model is None:
            self._build(self)
        return self._model

    @property
    def built(self) -> bool:
        return self._model is not None

    @property
    def label(self) -> str:
        presses = {k for k, _ in self.n_fixed}
        if len(presses) > 1:  # one N per press (a room's model): in press order
            return "N=" + ",".join("var" if v is None else str(v) for _, v in sorted(self.n_fixed.items()))
        values = sorted(set(self.n_fixed.values()), key=lambda v: -1 if v is None else v)
        return "N=" + ",".join("var" if v is None else str(v) for v in values)


@dataclass
class ScheduleModel:
    instance: Instance
    networks: dict[Path, FaultNetwork]  # network_file -> network, for every press kind of the instance
    options: DictConfig
    submodels: list[SubModel]
    bound_seconds: float
    warnings: list[str] = field(default_factory=list)
    build_seconds: float | None = None  # prepare()'s wall time: inputs, bounds and sub-models
    hour_values: dict = field(default_factory=dict)  # (kind, N) -> HourValues (hour-value cuts), when used
    cut_seconds: float = 0.0            # the last set_costs: hour values and cuts for its costs
    costs: Costs | None = None          # the costs the sub-models hold now
    plant: object = None                # the PlantInstance it stands for (run.prepare), for verification
    start_humidity: float | None = None  # H before the first hour the models hold (None: free)
    demand_on: bool = True              # the demand constraints active (off: a decomposition prices them)

    @property
    def network(self) -> FaultNetwork:
        """The first press's network (the only one of a single-press model)."""
        return self.networks[self.instance.rows[0].network_file]


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


def bits_of(press: Press) -> range:
    """The binary digits of a press's units per hour (x = sum 2^i u_i)."""
    return range(int(press.max_per_hour).bit_length())


def _production(m, inst: Instance, n_fixed: dict, encodings: dict) -> None:
    """Maintenance, units (bits u), p and w = u p, capacity and demand, one row per press."""
    hours, presses, days = range(inst.hours), range(inst.presses), range(len(inst.days))
    bits = {k: bits_of(inst.rows[k]) for k in presses}
    kind = {k: inst.kind_of(k) for k in presses}
    ukt = [(k, t, i) for k in presses for t in hours for i in bits[k]]
    m.b = pe.Var(presses, hours, domain=pe.Binary)
    m.u = pe.Var(ukt, domain=pe.Binary)
    m.p = pe.Var(presses, hours, bounds=(0, 1))
    m.w = pe.Var(ukt, bounds=(0, 1))
    m.N = pe.Var(presses, days, domain=pe.Integers, bounds=lambda m, k, d: inst.count_range(k, d))
    m.x = pe.Expression(presses, hours, rule=lambda m, k, t: sum(2 ** i * m.u[k, t, i] for i in bits[k]))
    for (k, d), n in n_fixed.items():
        if n is not None:
            m.N[k, d].fix(n)
    done = inst.maintenance_done
    m.maintenance_count = pe.Constraint(presses, days, rule=lambda m, k, d: lin(
        [1.0] * len(inst.days[d]) + [-1.0], [*(m.b[k, t] for t in inst.days[d]), m.N[k, d]], float(done[k, d])) == 0)
    m.demand = pe.Constraint(range(len(inst.demand_blocks)), rule=lambda m, d: lin(
        [inst.weights[k] * 2.0 ** i for k in presses for t in inst.demand_blocks[d] for i in bits[k]],
        [m.u[k, t, i] for k in presses for t in inst.demand_blocks[d] for i in bits[k]]) >= inst.demand[d])
    lost = {k: inst.rows[k].max_per_hour - inst.rows[k].capacity_in_maintenance_hour for k in presses}
    m.capacity = pe.Constraint(presses, hours, rule=lambda m, k, t: lin(
        [2.0 ** i for i in bits[k]] + [lost[k]], [*(m.u[k, t, i] for i in bits[k]), m.b[k, t]]) <= inst.rows[k].max_per_hour)
    p_range = {}
    for k in presses:
        for t in hours:
            p_min, p_max = encodings[kind[k], n_fixed[(k, inst.day_of(t))]].probability_range
            p_range[k, t] = p_min, p_max
            m.p[k, t].setlb(p_min)
            m.p[k, t].setub(p_max)
            for i in bits[k]:
                m.w[k, t, i].setub(p_max)
    m.failed_units_link = pe.Constraint(ukt, rule=lambda m, k, t, i: (
        m.w[k, t, i] >= m.p[k, t] - p_range[k, t][1] * (1 - m.u[k, t, i])))
    m.failed_units_floor = pe.Constraint(ukt, rule=lambda m, k, t, i: (
        m.w[k, t, i] >= p_range[k, t][0] * m.u[k, t, i]))
    X = {k: inst.rows[k].max_per_hour for k in presses}
    m.failed_units_mccormick = pe.Constraint(presses, hours, rule=lambda m, k, t: lin(
        [2.0 ** i for i in bits[k]] + [-p_range[k, t][1] * 2.0 ** i for i in bits[k]] + [-X[k]],
        [*(m.w[k, t, i] for i in bits[k]), *(m.u[k, t, i] for i in bits[k]), m.p[k, t]], X[k] * p_range[k, t][1]) >= 0)


def _networks(m, inst: Instance, n_fixed: dict, encodings: dict) -> None:
    """One network copy and its sigmoid per press and hour."""
    m.net = pe.Block(range(inst.presses), range(inst.hours))
    for k in range(inst.presses):
        for t in range(inst.hours):
            n_var = m.N[k, inst.day_of(t)]
            enc = encodings[inst.kind_of(k), n_fixed[(k, inst.day_of(t))]]
            free = {"temperature_C": m.T[t], "humidity_pct": m.H[t], N_INPUT: n_var}
            blk = m.net[k, t]
            add_sigmoid(blk, enc.sigmoid, enc.add(blk, free), m.p[k, t])


def _objective(m, inst: Instance, costs: Costs) -> None:
    """Profit (maximise, USD) with the cost coefficients as mutable Params (set_costs)."""
    hours, presses = range(inst.hours), range(inst.presses)
    bits = {k: bits_of(inst.rows[k]) for k in presses}
    for symbol, value in costs.coefficients().items():  # R, Cpen, Cm, cT, cH (contracts/costs.py)
        setattr(m, symbol, pe.Param(mutable=True, initialize=value))
    m.bonus = pe.Param(mutable=True, initialize=costs.unit_bonus)
    kappa = inst.usd_per_kwh_per_usd_per_mwh
    machine = {k: [float(inst.price[t] * kappa * inst.rows[k].machine_kwh_per_unit) for t in hours]
               for k in presses}  # USD per unit
    room = [float(inst.price[t] * kappa * inst.room_share) for t in hours]  # USD per kWh of room energy paid here
    if any(w != 1 for w in inst.weights):  # rows standing for several identical presses
        weight = inst.weights
        m.profit = pe.Objective(sense=pe.maximize, expr=(
            pe.quicksum(weight[k] * (m.R + m.bonus - machine[k][t]) * 2 ** i * m.u[k, t, i]
                        for k in presses for t in hours for i in bits[k])
            - pe.quicksum(weight[k] * (m.R + m.Cpen) * 2 ** i * m.w[k, t, i] for k in presses for t in hours for i in bits[k])
            - pe.quicksum(weight[k] * m.Cm * m.b[k, t] for k in presses for t in hours)
            - pe.quicksum(room[t] * m.cT * m.eT[t] for t in hours)
            - pe.quicksum(room[t] * m.cH * m.eH[t] for t in hours)))
        return
    m.profit = pe.Objective(sense=pe.maximize, expr=(
        pe.quicksum((m.R + m.bonus - machine[k][t]) * 2 ** i * m.u[k, t, i] for k in presses for t in hours for i in bits[k])
        - pe.quicksum((m.R + m.Cpen) * 2 ** i * m.w[k, t, i] for k in presses for t in hours for i in bits[k])
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


def _assignments(inst: Instance, opts: DictConfig) -> list[dict]:
    keys = [(k, d) for k in range(inst.presses) for d in range(len(inst.days))]
    enumerate_n = bool(opts.enumerate_maintenance_count) and encoding_class(str(opts.network_encoding)).enumerates_maintenance
    if enumerate_n and len(keys) == 1:
        return [{keys[0]: n} for n in range(inst.count_range(0, 0)[0], inst.count_range(0, 0)[1] + 1)]
    return [{key: None for key in keys}]


def model_stats(m: pe.ConcreteModel) -> dict:
    vars_ = [v for v in m.component_data_objects(pe.Var, active=True) if not v.fixed]
    return {"variables": len(vars_),
            "binaries": sum(1 for v in vars_ if v.is_binary()),
            "integers": sum(1 for v in vars_ if v.is_integer() and not v.is_binary()),
            "constraints": sum(1 for _ in m.component_data_objects(pe.Constraint, active=True))}


def shared_parts(inst: Instance, networks: Mapping[Path, FaultNetwork], opts: DictConfig,
                 assignments: list[dict] | None = None) -> tuple[list[dict], dict, dict]:
    """The N assignments (default: one sub-model per N for one press and one day), one encoding
    per press kind and N value (bounds, sigmoid pieces) and, where the cuts apply, one HourValues
    per (kind, N): what every day of a horizon can share."""
    assignments = assignments if assignments is not None else _assignments(inst, opts)
    keys = sorted({(inst.kind_of(k), v) for a in assignments for (k, _), v in a.items()},
                  key=lambda kv: (kv[0], -1 if kv[1] is None else kv[1]))
    encoder = encoding_class(str(opts.network_encoding))
    kinds = inst.kinds
    encodings = {(c, v): encoder(networks[kinds[c].network_file], kinds[c], inst, v, opts) for c, v in keys}
    hour_values = {}
    if _hour_value_cuts(inst, opts, assignments):  # built on first use (ensure_cuts)
        hour_values = {key: None for key in keys}
    return assignments, encodings, hour_values


def build_schedule_model(inst: Instance, networks: Mapping[Path, FaultNetwork], costs: Costs, opts: DictConfig,
                         shared: tuple | None = None, assignments: list[dict] | None = None) -> ScheduleModel:
    """Bounds once per press kind and N (shared by all hourly copies), then one sub-model per
    assignment of N (its Pyomo model built on first use); `shared` (from shared_parts) skips
    the first part."""
    start = time.perf_counter()
    assignments, encodings, hour_values = shared or shared_parts(inst, networks, opts, assignments)
    bound_seconds = time.perf_counter() - start
    subs = []
    for a in assignments:
        used = {(inst.kind_of(k), v) for (k, _), v in a.items()}
        subs.append(SubModel(a, {key: encodings[key] for key in sorted(used, key=str)}))
    schedule = ScheduleModel(inst, dict(networks), opts, subs, bound_seconds, hour_values=hour_values, costs=costs,
                             start_humidity=inst.humidity_initial)
    for sub in subs:
        sub._build = lambda sub, schedule=schedule: _build_sub(schedule, sub)
    return schedule


def _build_sub(schedule: ScheduleModel, sub: SubModel) -> None:
    """The sub-model's Pyomo model, holding the schedule's costs, start humidity and demand."""
    t0 = time.perf_counter()
    encodings = {key: enc for s in schedule.submodels for key, enc in s.encodings.items()}
    m = build_submodel(schedule.instance, sub.n_fixed, encodings, schedule.costs)
    fix_start(m, schedule.start_humidity)
    if not schedule.demand_on:
        m.demand.deactivate()
    sub._model = m
    sub.build_seconds = time.perf_counter() - t0
    sub.stats = model_stats(m)


def _hour_value_cuts(inst: Instance, opts: DictConfig, assignments: list[dict]) -> bool:
    """The cuts need one day block and N fixed per press and sub-model (two free network inputs)."""
    return bool(opts.hour_value_cuts) and len(inst.days) == 1 and all(
        v is not None for a in assignments for v in a.values())


def set_costs(schedule: ScheduleModel, costs: Costs) -> None:
    """New cost coefficients for every built sub-model, without rebuilding or re-tightening; its
    hour-value cuts (which depend on the costs) go until a solve needs them again (ensure_cuts:
    recomputed from the cached vertices)."""
    for sub in schedule.submodels:
        if not sub.built:
            continue
        m = sub.model
        for symbol, value in costs.coefficients().items():
            getattr(m, symbol).set_value(value)
        m.bonus.set_value(costs.unit_bonus)
        if sub.cuts_costs is not None and sub.cuts_costs != costs:
            m.hour_value.deactivate()
            sub.cuts_costs = None
    schedule.costs = costs


def ensure_cuts(schedule: ScheduleModel, sub: SubModel) -> None:
    """The sub-model's hour-value cuts for the schedule's costs (where the cuts apply)."""
    if not schedule.hour_values or sub.cuts_costs == schedule.costs:
        return
    start = time.perf_counter()
    inst = schedule.instance
    keys = [(inst.kind_of(k), sub.n_fixed[(k, 0)]) for k in range(inst.presses)]
    for key in keys:
        if schedule.hour_values[key] is None:
            schedule.hour_values[key] = HourValues(sub.encodings[key], int(schedule.options.hour_value_strips))
    add_hour_value_cuts(sub.model, schedule.hour_values, keys, schedule.costs, inst)
    sub.cuts_costs = schedule.costs
    schedule.cut_seconds += time.perf_counter() - start


def set_start(schedule: ScheduleModel, humidity: float | None) -> None:
    """The room's humidity before the first hour in every sub-model (None: free)."""
    schedule.start_humidity = humidity
    for sub in schedule.submodels:
        if sub.built:
            fix_start(sub.model, humidity)


def set_demand(schedule: ScheduleModel, demand: int | None) -> None:
    """A one-day model's demand: `demand` units (None: no demand constraint)."""
    schedule.demand_on = demand is not None
    if demand is not None:
        schedule.instance.demand = [int(demand)]
    for sub in schedule.submodels:
        if not sub.built:
            continue
        con = sub.model.demand[0]
        if demand is None:
            con.deactivate()
        else:
            con.activate()
            con.set_value(con.body >= float(demand))


def unstable_counts(schedule: ScheduleModel) -> dict:
    """Unstable neurons per network copy, with interval bounds and with the tightened ones
    (keyed by N; by press kind and N where the model holds several kinds)."""
    several = len(schedule.instance.kinds) > 1
    name = lambda c, v: ("var" if v is None else str(v)) if not several else f"kind {c} N={'var' if v is None else v}"  # noqa: E731
    return {name(c, v): enc.stats() for sub in schedule.submodels for (c, v), enc in sub.encodings.items()}
