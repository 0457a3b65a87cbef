"""The study's schedule model in Pyomo, with the fault network embedded exactly.

One `SubModel` per assignment of the maintenance count N (per press and day): with N
enumerated, each hourly network copy sees two free inputs (T_t, H_t); with N a variable it
sees three. Formulation steps, each switchable in conf/optimize (`formulation`):
- fixed inputs (P, S, V, and N when enumerated) folded into layer 1 (network.fold);
- neuron bounds from LP/MILP tightening over the box, computed once per sub-model and shared
  by all hourly copies (bounds.tighten);
- binaries only for unstable neurons; stable ones are linear (active) or absent (inactive);
- `one_sided_output`: last-layer neurons with a non-negative output weight need no binary,
  because the objective always pushes the logit down (lower p is always better when x_t > 0);
- x_t p_t exact: x_t = sum_i 2^i u_ti with binaries u, and w_ti = u_ti p_t as
  w_ti >= p_t - p_max (1 - u_ti), w_ti >= 0 (the objective pushes w down);
- p_t >= PWL(logit) (sigmoid.py) with a stated error bound;
- |.| of the temperature and humidity energy by epigraphs (exact for non-negative prices;
  hours with a negative price get a sign binary).
Cost coefficients are mutable Params: `set_costs` changes them without rebuilding.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig
from pyomo.core.expr.numeric_expr import LinearExpression

from pipeline.optimize.bounds import NeuronBounds, interval_bounds, tighten
from pipeline.optimize.instance import Instance
from pipeline.optimize.network import FEATURES, FaultNetwork, FoldedNetwork
from pipeline.optimize.regions import linear_regions
from pipeline.optimize.sigmoid import SigmoidPWL
from pipeline.optimize.sigmoid import build as build_sigmoid

N_INPUT = "maintenance_cycles"


@dataclass
class Costs:
    """Effective coefficients (scales applied), USD and USD per unit of energy input."""

    revenue: float
    penalty: float
    maintenance: float
    temperature_kwh: float
    humidity_kwh: float

    @classmethod
    def from_cfg(cls, costs: DictConfig) -> "Costs":
        return cls(float(costs.revenue_per_tablet), float(costs.penalty_per_failed_tablet),
                   float(costs.maintenance_cost) * float(costs.maintenance_scale),
                   float(costs.temperature_cost) * float(costs.temperature_scale),
                   float(costs.humidity_cost) * float(costs.humidity_scale))


@dataclass
class NetworkEncoding:
    """A folded network, its bounds and its sigmoid PWL, shared by a sub-model's hourly copies."""

    folded: FoldedNetwork
    bounds: NeuronBounds
    interval: NeuronBounds
    sigmoid: SigmoidPWL
    regions: list | None = None  # linear regions over (T, H) when the encoding is "regions"
    omlt: bool = False           # the naive baseline: OMLT's block over all six inputs
    omlt_netdef: object = None   # its OMLT NetworkDefinition (scaling, scaled input bounds), built once


@dataclass
class SubModel:
    n_fixed: dict[tuple[int, int], int | None]  # (press, day) -> N, or None when N is a variable
    model: pe.ConcreteModel
    encodings: dict
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
    solvers: dict = field(default_factory=dict)  # persistent solver per sub-model (re-solves)
    build_seconds: float | None = None  # prepare()'s wall time: inputs, bounds and sub-models


def _free_box(inst: Instance) -> dict[str, tuple[float, float]]:
    """The optimiser's box of the network's free inputs (T_t, H_t and the maintenance count N)."""
    return {"temperature_C": inst.temperature_box, "humidity_pct": inst.humidity_box,
            N_INPUT: (inst.required_maintenance, inst.max_maintenance)}


def _omlt_encoding(net: FaultNetwork, inst: Instance, opts: DictConfig) -> NetworkEncoding:
    """The naive baseline: OMLT's own big-M over all six inputs, interval bounds only. OMLT's
    network definition is built once here; every hourly block builds its formulation from it
    (OMLT only reads the definition)."""
    import onnx
    from omlt import OffsetScaling
    from omlt.io import load_onnx_neural_network

    # net.fold({}) holds the same numbers, but its first layer is C-ordered (this one keeps the
    # ONNX weights' F order), and the matmuls in interval_bounds then round differently
    full = FoldedNetwork(list(FEATURES), [net.weights[0] / net.factor[:, None], *net.weights[1:]],
                         [net.biases[0] - (net.offset / net.factor) @ net.weights[0], *net.biases[1:]])
    lo, hi = _omlt_box(net, inst)
    interval = interval_bounds(full, lo, hi)
    scaler = OffsetScaling(offset_inputs=list(net.offset), factor_inputs=list(net.factor),
                           offset_outputs=[0.0], factor_outputs=[1.0])
    # OMLT wants the bounds in the scaled space (shared/DESIGN.md), keyed by input position
    bounds = {i: ((lo[i] - net.offset[i]) / net.factor[i], (hi[i] - net.offset[i]) / net.factor[i])
              for i in range(len(FEATURES))}
    netdef = load_onnx_neural_network(onnx.load(str(net.path)), scaler, bounds)
    sig = build_sigmoid(*interval.logit, float(opts.sigmoid_tolerance))
    return NetworkEncoding(full, interval, interval, sig, None, omlt=True, omlt_netdef=netdef)


def _omlt_box(net: FaultNetwork, inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    box = {**_free_box(inst), **{k: (v, v) for k, v in inst.fixed.items()}}
    return np.array([box[n][0] for n in FEATURES], float), np.array([box[n][1] for n in FEATURES], float)


def _omlt_block(blk, enc: NetworkEncoding, inst: Instance, free: dict) -> tuple[np.ndarray, list, float]:
    from omlt import OmltBlock
    from omlt.neuralnet import ReluBigMFormulation

    blk.nn = OmltBlock()
    blk.nn.build_formulation(ReluBigMFormulation(enc.omlt_netdef))
    blk.link = pe.ConstraintList()
    keys = list(blk.nn.inputs.keys())
    for i, name in enumerate(FEATURES):
        value = free.get(name, inst.fixed.get(name))
        blk.link.add(blk.nn.inputs[keys[i]] == value)
    out = blk.nn.outputs[list(blk.nn.outputs.keys())[0]]
    return np.array([1.0]), [out], 0.0


def _encoding(net: FaultNetwork, inst: Instance, n_value: int | None, opts: DictConfig) -> NetworkEncoding:
    if str(opts.network_encoding) == "omlt_bigm":
        return _omlt_encoding(net, inst, opts)
    fixed = dict(inst.fixed)
    if n_value is not None:
        fixed[N_INPUT] = n_value
    folded = net.fold(fixed)
    box = _free_box(inst)
    lo = np.array([box[n][0] for n in folded.inputs], float)
    hi = np.array([box[n][1] for n in folded.inputs], float)
    interval = interval_bounds(folded, lo, hi)
    mode = str(opts.bound_tightening)
    if mode == "interval":
        bounds = interval
    elif mode in ("lp", "milp"):
        bounds = tighten(folded, lo, hi, exact=mode == "milp")
    else:
        raise ValueError(f"optimize.formulation.bound_tightening must be interval, lp or milp, got {mode!r}")
    regions = None
    if str(opts.network_encoding) == "regions" and len(folded.inputs) == 2:
        regions = linear_regions(folded, bounds, lo, hi)
        # the logit's exact range: an affine function's extremes on a polygon are at its vertices
        values = np.concatenate([r.vertices @ r.grad + r.offset for r in regions])
        bounds.lower[-1] = np.array([max(bounds.lower[-1][0], values.min())])
        bounds.upper[-1] = np.array([min(bounds.upper[-1][0], values.max())])
    elif str(opts.network_encoding) not in ("regions", "bigm"):
        raise ValueError(f"optimize.formulation.network_encoding must be bigm, regions or omlt_bigm, "
                         f"got {opts.network_encoding!r}")
    sig = build_sigmoid(*bounds.logit, float(opts.sigmoid_tolerance))
    return NetworkEncoding(folded, bounds, interval, sig, regions)


def _region_block(blk, regions: list, T, H) -> tuple[np.ndarray, list, float]:
    """Convex-hull (disaggregated) formulation: one binary per linear region of the network;
    the hour's (T, H) is split into per-region copies, only the chosen one non-zero."""
    R = range(len(regions))
    blk.pick = pe.Var(R, domain=pe.Binary)
    blk.vT = pe.Var(R)
    blk.vH = pe.Var(R)
    blk.rc = pe.ConstraintList()
    blk.rc.add(lin([1.0] * len(R), [blk.pick[r] for r in R]) == 1)
    blk.rc.add(lin([1.0] + [-1.0] * len(R), [T, *(blk.vT[r] for r in R)]) == 0)
    blk.rc.add(lin([1.0] + [-1.0] * len(R), [H, *(blk.vH[r] for r in R)]) == 0)
    for r, reg in enumerate(regions):
        for (a1, a2), c in zip(reg.A, reg.c):
            blk.rc.add(float(a1) * blk.vT[r] + float(a2) * blk.vH[r] <= float(c) * blk.pick[r])
    coefs, variables = [], []
    for r, reg in enumerate(regions):
        coefs += [reg.grad[0], reg.grad[1], reg.offset]
        variables += [blk.vT[r], blk.vH[r], blk.pick[r]]
    return np.array(coefs, float), variables, 0.0


def lin(coefs, variables, constant: float = 0.0) -> LinearExpression:
    """A flat linear expression (Pyomo's repn of nested sums is what makes big models slow)."""
    pairs = [(float(c), v) for c, v in zip(coefs, variables) if c != 0]
    return LinearExpression(constant=float(constant), linear_coefs=[c for c, _ in pairs],
                            linear_vars=[v for _, v in pairs])


def _relu_layers(blk, enc: NetworkEncoding, inputs: list, opts: DictConfig) -> tuple[np.ndarray, list, float]:
    """Add the hidden layers to block `blk` (big-M on unstable neurons only); return the logit
    as an affine map (coefficients, variables, constant) over inputs and ReLU outputs."""
    weights, biases, bounds = enc.folded.weights, enc.folded.biases, enc.bounds
    one_sided = bool(opts.one_sided_output)
    skip_stable = bool(opts.stable_neurons_without_binaries)
    variables = list(inputs)
    C = np.eye(len(inputs))            # current layer's values as affine maps of `variables`
    c = np.zeros(len(inputs))
    blk.y = pe.VarList(domain=pe.NonNegativeReals)
    blk.d = pe.VarList(domain=pe.Binary)
    blk.c = pe.ConstraintList()
    for k in range(len(weights) - 1):
        w, b, L, U = weights[k], biases[k], bounds.lower[k], bounds.upper[k]
        P, q = w.T @ C, w.T @ c + b    # pre-activations
        last_hidden = k == len(weights) - 2
        out_w = weights[k + 1][:, 0] if last_hidden else None
        rows, consts = [], []
        for j in range(w.shape[1]):
            if skip_stable and U[j] <= 0:
                rows.append(np.zeros(len(variables))); consts.append(0.0)
                continue
            if skip_stable and L[j] >= 0:
                rows.append(P[j].copy()); consts.append(q[j])
                continue
            y = blk.y.add()
            y.setub(max(float(U[j]), 0.0))
            pre = (P[j], variables[:P.shape[1]])
            blk.c.add(lin(np.append(-pre[0], 1.0), [*pre[1], y], -q[j]) >= 0)          # y >= pre
            if not (one_sided and last_hidden and out_w[j] >= 0):
                d = blk.d.add()
                lo, hi = min(float(L[j]), 0.0), max(float(U[j]), 0.0)
                blk.c.add(lin(np.append(-pre[0], [1.0, -lo]), [*pre[1], y, d], -q[j] + lo) <= 0)  # y <= pre - lo (1 - d)
                blk.c.add(lin([1.0, -hi], [y, d]) <= 0)                                      # y <= hi d
            variables.append(y)
            row = np.zeros(len(variables)); row[-1] = 1.0
            rows.append(row); consts.append(0.0)
        width = len(variables)
        C = np.array([np.pad(r, (0, width - len(r))) for r in rows])
        c = np.array(consts)
    w, b = weights[-1], biases[-1]
    return (w.T @ C)[0], variables, float((w.T @ c + b)[0])


def _sigmoid_block(blk, sig: SigmoidPWL, z: tuple, p) -> None:
    """p >= PWL(z): tangents on z <= 0, chords with an incremental formulation on z >= 0.
    `z` is the logit as an affine map (coefficients, variables, constant)."""
    zc, zv, z0 = z

    def tangent_cut(t, coefs, variables, const):  # p >= s + s (1 - s) (z - t)
        s = float(1 / (1 + math.exp(-t)))
        g = s * (1 - s)
        return lin(np.append(-g * np.asarray(coefs, float), 1.0), [*variables, p], -(s + g * (const - t))) >= 0

    blk.sig = pe.ConstraintList()
    if sig.upper <= 0:
        for t in sig.tangents:
            blk.sig.add(tangent_cut(t, zc, zv, z0))
        return
    blk.zpos = pe.Var(bounds=(0, sig.upper))
    n_pieces = len(sig.chords) - 1
    blk.seg = pe.Var(range(n_pieces), bounds=lambda m, i: (0, sig.chords[i + 1] - sig.chords[i]))
    vals = 1 / (1 + np.exp(-sig.chords))
    slopes = np.diff(vals) / np.diff(sig.chords)
    if n_pieces > 1:  # segment i+1 may fill only once segment i is full
        blk.full = pe.Var(range(n_pieces - 1), domain=pe.Binary)
        for i in range(n_pieces - 1):
            blk.sig.add(blk.seg[i] >= (sig.chords[i + 1] - sig.chords[i]) * blk.full[i])
            blk.sig.add(blk.seg[i + 1] <= (sig.chords[i + 2] - sig.chords[i + 1]) * blk.full[i])
    start = float(sig.chords[0])
    blk.sig.add(blk.zpos == start + sum(blk.seg[i] for i in range(n_pieces)))
    concave = (slopes, [blk.seg[i] for i in range(n_pieces)], float(vals[0]))  # sigmoid chords, affine in seg
    if sig.lower >= 0:
        blk.sig.add(lin(np.append(zc, -1.0), [*zv, blk.zpos], z0) == 0)
        blk.sig.add(lin(np.append(-concave[0], 1.0), [*concave[1], p], -concave[2]) >= 0)
        return
    # the logit may take either sign: z = zneg + zpos with a sign binary
    blk.positive = pe.Var(domain=pe.Binary)
    blk.zneg = pe.Var(bounds=(sig.lower, 0))
    blk.q = pe.Var(bounds=(0, 0.5))
    blk.sig.add(lin(np.append(zc, [-1.0, -1.0]), [*zv, blk.zneg, blk.zpos], z0) == 0)
    blk.sig.add(blk.zneg >= sig.lower * (1 - blk.positive))
    blk.sig.add(blk.zpos <= sig.upper * blk.positive)
    for t in sig.tangents:
        s_t = float(1 / (1 + math.exp(-t)))
        g = s_t * (1 - s_t)
        blk.sig.add(lin([1.0, -g], [blk.q, blk.zneg], -(s_t - g * t)) >= 0)
    blk.sig.add(lin(np.append(-concave[0], [1.0, -1.0]), [*concave[1], p, blk.q], -(concave[2] - 0.5)) >= 0)


def _abs_epigraph(m, name: str, index, expr, big_m: float, exact: bool):
    """A var e >= |expr| (exact with a sign binary when `exact`)."""
    e = getattr(m, name)[index]
    con = getattr(m, name + "_c")
    con.add(e >= expr)
    con.add(e >= -expr)
    if exact:
        s = getattr(m, name + "_sign")[index]
        con.add(e <= expr + 2 * big_m * (1 - s))
        con.add(e <= -expr + 2 * big_m * s)


def _build_sub(inst: Instance, n_fixed: dict, encodings: dict, costs: Costs,
               opts: DictConfig) -> pe.ConcreteModel:
    hours, presses = range(inst.hours), range(inst.presses)
    n_days = len(inst.days)
    m = pe.ConcreteModel(name="tablet_schedule")
    m.R = pe.Param(mutable=True, initialize=costs.revenue)
    m.Cpen = pe.Param(mutable=True, initialize=costs.penalty)
    m.Cm = pe.Param(mutable=True, initialize=costs.maintenance)
    m.cT = pe.Param(mutable=True, initialize=costs.temperature_kwh)
    m.cH = pe.Param(mutable=True, initialize=costs.humidity_kwh)
    m.T = pe.Var(hours, bounds=inst.temperature_box)
    m.H = pe.Var(hours, bounds=inst.humidity_box)
    t_span = max(abs(inst.temperature_box[1] - inst.outside_temperature.min()),
                 abs(inst.outside_temperature.max() - inst.temperature_box[0]))
    h_span = inst.humidity_box[1] - inst.humidity_box[0]
    m.eT = pe.Var(hours, bounds=(0, t_span))
    m.eH = pe.Var(hours, bounds=(0, h_span))
    m.eT_c, m.eH_c = pe.ConstraintList(), pe.ConstraintList()
    m.eT_sign = pe.Var(hours, domain=pe.Binary)
    m.eH_sign = pe.Var(hours, domain=pe.Binary)
    for t in hours:
        negative = bool(inst.price[t] < 0)
        if not negative:
            m.eT_sign[t].fix(0)
            m.eH_sign[t].fix(0)
        _abs_epigraph(m, "eT", t, inst.outside_temperature[t] - m.T[t], t_span, negative)
        prev = inst.humidity_initial if t == 0 else m.H[t - 1]
        _abs_epigraph(m, "eH", t, m.H[t] - prev, h_span, negative)
    n_bits = int(inst.max_per_hour).bit_length()
    bits = range(n_bits)
    m.b = pe.Var(presses, hours, domain=pe.Binary)
    m.u = pe.Var(presses, hours, range(n_bits), domain=pe.Binary)
    m.p = pe.Var(presses, hours, bounds=(0, 1))
    m.w = pe.Var(presses, hours, range(n_bits), bounds=(0, 1))
    m.N = pe.Var(presses, range(n_days), domain=pe.Integers,
                 bounds=lambda m, k, d: (inst.required_maintenance, _max_count(inst, d)))
    m.con = pe.ConstraintList()
    m.x = pe.Expression(presses, hours, rule=lambda m, k, t: sum(2 ** i * m.u[k, t, i] for i in range(n_bits)))
    lost = inst.max_per_hour - inst.capacity_in_maintenance_hour
    for k in presses:
        for d, day in enumerate(inst.days):
            n = n_fixed[(k, d)]
            if n is not None:
                m.N[k, d].fix(n)
            m.con.add(lin([1.0] * len(day) + [-1.0], [*(m.b[k, t] for t in day), m.N[k, d]]) == 0)
    for d, day in enumerate(inst.days):
        m.con.add(lin([2.0 ** i for k in presses for t in day for i in bits],
                      [m.u[k, t, i] for k in presses for t in day for i in bits]) >= inst.demand[d])
    m.net = pe.Block(presses, hours)
    for k in presses:
        for t in hours:
            m.con.add(lin([2.0 ** i for i in bits] + [lost], [*(m.u[k, t, i] for i in bits), m.b[k, t]])
                      <= inst.max_per_hour)
            enc = encodings[n_fixed[(k, inst.day_of(t))]]
            p_min, p_max = (float(v) for v in enc.sigmoid(np.array([enc.sigmoid.lower, enc.sigmoid.upper])))
            m.p[k, t].setlb(max(p_min, 0.0))
            m.p[k, t].setub(p_max)
            for i in range(n_bits):
                m.w[k, t, i].setub(p_max)
                m.con.add(m.w[k, t, i] >= m.p[k, t] - p_max * (1 - m.u[k, t, i]))
                # u p >= u p_min: implied for integer u, but it keeps the failure cost in the LP
                # relaxation (without it a fractional u makes x_t p_t nearly free)
                m.con.add(m.w[k, t, i] >= max(p_min, 0.0) * m.u[k, t, i])
            # McCormick: (X_max - x)(p_max - p) >= 0. Implied at integrality, but at x = X_max it
            # makes the LP pay the exact failure cost, so the LP can no longer move T_t for free
            X = inst.max_per_hour
            m.con.add(lin([2.0 ** i for i in bits] + [-p_max * 2.0 ** i for i in bits] + [-X],
                          [*(m.w[k, t, i] for i in bits), *(m.u[k, t, i] for i in bits), m.p[k, t]], X * p_max) >= 0)
            free = {"temperature_C": m.T[t], "humidity_pct": m.H[t], N_INPUT: m.N[k, inst.day_of(t)]}
            blk = m.net[k, t]
            if enc.omlt:
                z = _omlt_block(blk, enc, inst, free)
            elif enc.regions is not None:
                z = _region_block(blk, enc.regions, m.T[t], m.H[t])
            else:
                z = _relu_layers(blk, enc, [free[name] for name in enc.folded.inputs], opts)
            _sigmoid_block(blk, enc.sigmoid, z, m.p[k, t])
    kappa = inst.usd_per_kwh_per_usd_per_mwh
    machine = [float(inst.price[t] * kappa * inst.machine_kwh_per_unit) for t in hours]  # USD per unit
    m.profit = pe.Objective(sense=pe.maximize, expr=(
        pe.quicksum((m.R - machine[t]) * 2 ** i * m.u[k, t, i] for k in presses for t in hours for i in bits)
        - pe.quicksum((m.R + m.Cpen) * 2 ** i * m.w[k, t, i] for k in presses for t in hours for i in bits)
        - pe.quicksum(m.Cm * m.b[k, t] for k in presses for t in hours)
        - pe.quicksum(float(inst.price[t] * kappa) * m.cT * m.eT[t] for t in hours)
        - pe.quicksum(float(inst.price[t] * kappa) * m.cH * m.eH[t] for t in hours)))
    return m


def _max_count(inst: Instance, day: int) -> int:
    """At most one maintenance per hour: a short day block caps N below max_per_day."""
    return min(inst.max_maintenance, len(inst.days[day]))


def _assignments(inst: Instance, opts: DictConfig) -> list[dict]:
    keys = [(k, d) for k in range(inst.presses) for d in range(len(inst.days))]
    enumerate_n = bool(opts.enumerate_maintenance_count) and str(opts.network_encoding) != "omlt_bigm"
    if enumerate_n and len(keys) == 1:
        return [{keys[0]: n} for n in range(inst.required_maintenance, _max_count(inst, 0) + 1)]
    return [{key: None for key in keys}]


def model_stats(m: pe.ConcreteModel) -> dict:
    vars_ = [v for v in m.component_data_objects(pe.Var, active=True) if not v.fixed]
    return {"variables": len(vars_),
            "binaries": sum(1 for v in vars_ if v.is_binary()),
            "integers": sum(1 for v in vars_ if v.is_integer() and not v.is_binary()),
            "constraints": sum(1 for _ in m.component_data_objects(pe.Constraint, active=True))}


def build_schedule_model(inst: Instance, net: FaultNetwork, costs: Costs, opts: DictConfig) -> ScheduleModel:
    """Tighten once per N assignment, then build one Pyomo model per assignment."""
    messages = net.check_box(_free_box(inst))
    start = time.perf_counter()
    assignments = _assignments(inst, opts)
    values = sorted({v for a in assignments for v in a.values()}, key=lambda v: -1 if v is None else v)
    encodings = {v: _encoding(net, inst, v, opts) for v in values}
    bound_seconds = time.perf_counter() - start
    subs = []
    for a in assignments:
        t0 = time.perf_counter()
        model = _build_sub(inst, a, encodings, costs, opts)
        sub = SubModel(a, model, {v: encodings[v] for v in set(a.values())}, time.perf_counter() - t0)
        sub.stats = model_stats(model)
        subs.append(sub)
    return ScheduleModel(inst, net, opts, subs, bound_seconds, messages)


def set_costs(schedule: ScheduleModel, costs: Costs) -> None:
    """New cost coefficients for every sub-model, without rebuilding or re-tightening."""
    for sub in schedule.submodels:
        m = sub.model
        m.R.set_value(costs.revenue)
        m.Cpen.set_value(costs.penalty)
        m.Cm.set_value(costs.maintenance)
        m.cT.set_value(costs.temperature_kwh)
        m.cH.set_value(costs.humidity_kwh)


def unstable_counts(schedule: ScheduleModel) -> dict:
    """Unstable neurons per network copy, with interval bounds and with the tightened ones."""
    out = {}
    for sub in schedule.submodels:
        for v, enc in sub.encodings.items():
            key = "var" if v is None else str(v)
            out[key] = {"interval": enc.interval.count_unstable(), "tightened": enc.bounds.count_unstable(),
                        "logit_lower": enc.bounds.logit[0], "logit_upper": enc.bounds.logit[1],
                        "sigmoid_tangents": len(enc.sigmoid.tangents),
                        "sigmoid_chord_pieces": max(len(enc.sigmoid.chords) - 1, 0),
                        "sigmoid_error_bound": enc.sigmoid.error_bound,
                        "linear_regions": None if enc.regions is None else len(enc.regions)}
    return out
