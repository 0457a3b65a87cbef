"""A peer for benchmarks/optimizer.py: the schedule as a user of PySCIPOpt-ML writes it.

The fault network enters through `pyscipopt_ml.onnx.add_onnx_constr` (one call for all hours:
the hours are the network's batch), over min-max scaled inputs with P, S, V fixed and the
maintenance count N a variable per day; the failure probability is SCIP's own exact sigmoid
p = 1 / (1 + exp(-logit)) and x p its bilinear product (SCIP solves the MINLP by spatial
branch and bound). Same instance, prices, costs and time limit as ours.

Needs the optional extra: pip install -e ".[peers]"
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import onnx

from pipeline.optimize.costs import Costs, objective_parts
from pipeline.optimize.instance import Instance
from pipeline.optimize.network import FEATURES, FaultNetwork
from pipeline.optimize.verify import onnx_probabilities


def solve(inst: Instance, net: FaultNetwork, costs: Costs, time_limit: float, threads: int = 1,
          formulation: str = "bigm") -> dict:
    """Build and solve with SCIP; the schedule's true objective (onnxruntime's p, numpy costs)."""
    import pyscipopt as scip
    from pyscipopt_ml.onnx import add_onnx_constr

    if inst.presses != 1:
        raise ValueError("the peer model is written for one press")
    start = time.perf_counter()
    m = scip.Model()
    m.hideOutput()
    hours, days = range(inst.hours), range(len(inst.days))
    press = inst.rows[0]
    X, lost = press.max_per_hour, press.max_per_hour - press.capacity_in_maintenance_hour
    kappa = inst.usd_per_kwh_per_usd_per_mwh
    T = [m.addVar(f"T{t}", lb=inst.temperature_box[0], ub=inst.temperature_box[1]) for t in hours]
    H = [m.addVar(f"H{t}", lb=inst.humidity_box[0], ub=inst.humidity_box[1]) for t in hours]
    x = [m.addVar(f"x{t}", vtype="I", lb=0, ub=X) for t in hours]
    b = [m.addVar(f"b{t}", vtype="B") for t in hours]
    N = [m.addVar(f"N{d}", vtype="I", lb=press.required_maintenance, ub=min(press.max_maintenance, len(inst.days[d])))
         for d in days]
    eT = [m.addVar(f"eT{t}", lb=0) for t in hours]
    eH = [m.addVar(f"eH{t}", lb=0) for t in hours]
    z = [m.addVar(f"z{t}", lb=-m.infinity()) for t in hours]
    p = [m.addVar(f"p{t}", lb=0, ub=1) for t in hours]
    for d in days:
        m.addCons(scip.quicksum(b[t] for t in inst.days[d]) == N[d])
    for k, block in enumerate(inst.demand_blocks):
        m.addCons(scip.quicksum(x[t] for t in block) >= inst.demand[k])
    raw = press.fixed_inputs
    scaled = np.empty((inst.hours, len(FEATURES)), dtype=object)
    for t in hours:
        m.addCons(x[t] + lost * b[t] <= X)
        m.addCons(eT[t] >= inst.outside_temperature[t] - T[t])
        m.addCons(eT[t] >= T[t] - inst.outside_temperature[t])
        prev = inst.humidity_initial if t == 0 else H[t - 1]
        m.addCons(eH[t] >= H[t] - prev)
        m.addCons(eH[t] >= prev - H[t])
        free = {"temperature_C": T[t], "humidity_pct": H[t], "maintenance_cycles": N[inst.day_of(t)]}
        for i, name in enumerate(FEATURES):
            v = m.addVar(f"s{t}_{i}", lb=-m.infinity())
            m.addCons(v * float(net.factor[i]) + float(net.offset[i]) == free.get(name, raw.get(name)))
            scaled[t, i] = v
        m.addCons(p[t] * (1 + scip.exp(-z[t])) == 1)  # the exact sigmoid
    add_onnx_constr(m, onnx.load(str(net.path)), scaled, np.array(z, dtype=object).reshape(-1, 1),
                    formulation=formulation)
    profit = scip.quicksum((costs.revenue - float(inst.price[t] * kappa * press.machine_kwh_per_unit)) * x[t]
                           - (costs.revenue + costs.penalty) * x[t] * p[t] - costs.maintenance * b[t]
                           - float(inst.price[t] * kappa) * (costs.temperature_kwh * eT[t] + costs.humidity_kwh * eH[t])
                           for t in hours)
    obj = m.addVar("profit", lb=-m.infinity())
    m.addCons(obj <= profit)  # a nonlinear objective as an epigraph (SCIP wants a linear one)
    m.setObjective(obj, "maximize")
    m.setParam("limits/time", max(time_limit - (time.perf_counter() - start), 1.0))
    m.setParam("parallel/maxnthreads", int(threads))
    build_s = time.perf_counter() - start
    m.optimize()
    seconds = time.perf_counter() - start
    out = {"status": str(m.getStatus()), "seconds": seconds, "build_s": build_s, "nodes": int(m.getNNodes()),
           "bound": float(m.getDualbound()), "variables": m.getNVars(), "constraints": m.getNConss()}
    if m.getNSols() == 0:
        return out | {"objective": None, "gap": math.inf}
    values = {"T": np.array([m.getVal(v) for v in T]), "H": np.array([m.getVal(v) for v in H]),
              "x": np.array([[round(m.getVal(v)) for v in x]]), "b": np.array([[round(m.getVal(v)) for v in b]]),
              "N": np.array([[round(m.getVal(v)) for v in N]])}
    _, p_true = onnx_probabilities(inst, net, values)
    true = objective_parts(inst, values, costs, p_true)["profit"]
    objective = float(m.getObjVal())
    return out | {"objective": objective, "objective_true_sigmoid": true,
                  "gap": abs(out["bound"] - objective) / max(abs(objective), 1e-9), "network": str(Path(net.path))}
