"""Every schedule is checked outside the solver, in plain numpy and onnxruntime.

- numpy checks every constraint of the study on the schedule itself (boxes, capacity,
  maintenance counts, demand): a decomposition's assembled schedule is checked like any other.
- onnxruntime evaluates each press's own ONNX file at each hour's (P, T_t, S, V, H_t, N): the
  MILP's p_t must lie within the sigmoid PWL's error bound (plus a small slack for float32
  and LP tolerances) of sigmoid(logit). Where x_t = 0 the MILP leaves p_t free (it has no
  effect on the objective); those hours are counted, and the schedule reports onnxruntime's p.
- numpy recomputes the whole objective from the schedule (|.| from T and H themselves, no
  solver variables): it must match the MILP's objective within a relative 1e-6 (conf).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from pipeline.core.onnx_io import session
from pipeline.optimize.costs import Costs, objective_parts
from pipeline.optimize.instance import PlantInstance
from pipeline.optimize.network import FEATURES, FaultNetwork
from pipeline.optimize.sigmoid import sigmoid
from pipeline.optimize.solve import SolveResult


class VerificationError(AssertionError):
    """The solver's schedule disagrees with the independent recomputation."""


@dataclass
class Verification:
    p_onnx: np.ndarray           # [presses, hours]
    logit_onnx: np.ndarray
    max_p_error: float           # over producing hours
    p_tolerance: float
    objective_numpy: float
    objective_rel_error: float
    objective_true: float        # the objective with onnxruntime's p (no PWL)
    parts: dict                  # objective decomposition (numpy, with the MILP's p)
    hours_p_free: int

    def metrics(self) -> dict:
        return {"max_p_error": self.max_p_error, "p_tolerance": self.p_tolerance,
                "objective_numpy": self.objective_numpy, "objective_rel_error": self.objective_rel_error,
                "objective_true_sigmoid": self.objective_true, "hours_p_free": self.hours_p_free,
                "passed": True}


def onnx_probabilities(inst: PlantInstance, networks: Mapping[Path, FaultNetwork],
                       values: dict) -> tuple[np.ndarray, np.ndarray]:
    """onnxruntime's logit and sigmoid at every (press, hour) of the schedule, each press through
    its own ONNX file at its own fixed inputs and its room's setpoints."""
    H = inst.hours
    T, Hum = np.atleast_2d(values["T"]), np.atleast_2d(values["H"])
    logit = np.zeros((len(inst.machines), H))
    for k, (r, press) in enumerate(inst.machines):
        raw = np.zeros((H, len(FEATURES)))
        for name, value in press.fixed:
            raw[:, FEATURES.index(name)] = value
        raw[:, FEATURES.index("temperature_C")] = T[r]
        raw[:, FEATURES.index("humidity_pct")] = Hum[r]
        raw[:, FEATURES.index("maintenance_cycles")] = [values["N"][k, inst.day_of(t)] for t in range(H)]
        net = networks[press.network_file]
        logit[k] = _run(session(net.path), net.graph_input(raw)).astype(float)
    return logit, sigmoid(logit)


def _run(sess, x: np.ndarray) -> np.ndarray:
    """The graph's output on rows x, in batches of its fixed batch size if it has one (a
    network exported without a dynamic batch axis takes [1, 6])."""
    spec = sess.get_inputs()[0]
    batch = spec.shape[0] if isinstance(spec.shape[0], int) and spec.shape[0] > 0 else len(x)
    parts = [sess.run(None, {spec.name: x[i:i + batch]})[0] for i in range(0, len(x), batch)]
    return np.concatenate(parts).reshape(len(x), -1)[:, 0]


def check_feasible(inst: PlantInstance, values: dict, tol: float = 1e-6) -> None:
    """Every constraint of the study, on the schedule itself: each room's setpoint boxes, units
    within each press's hourly capacity, one maintenance per hour at most, each press's
    maintenance count per day in its range (counting those made before a re-plan), the demand of
    every block met by all presses together. VerificationError naming the first violation."""
    x, b, n = values["x"], values["b"], values["N"]
    names = inst.machine_names
    T, Hum = np.atleast_2d(values["T"]), np.atleast_2d(values["H"])
    for r, room in enumerate(inst.plant.rooms):
        for name, series, (lo, hi) in (("T", T[r], room.temperature_box), ("H", Hum[r], room.humidity_box)):
            bad = np.flatnonzero((series < lo - tol) | (series > hi + tol))
            if bad.size:
                raise VerificationError(f"room {room.name!r}, hour {bad[0]}: {name}={series[bad[0]]:.6f} outside [{lo}, {hi}]")
    top = np.array([press.max_per_hour for _, press in inst.machines])[:, None]
    low = np.array([press.capacity_in_maintenance_hour for _, press in inst.machines])[:, None]
    capacity = top - (top - low) * b
    if (x < 0).any() or (x > capacity).any() or not np.isin(b, (0, 1)).all():
        k, t = np.argwhere((x < 0) | (x > capacity) | ~np.isin(b, (0, 1)))[0]
        raise VerificationError(f"press {names[k]!r}, hour {t}: {x[k, t]} units with maintenance {b[k, t]} "
                                f"(capacity {capacity[k, t]})")
    for d, hours in enumerate(inst.days):
        made = b[:, hours].sum(axis=1) + inst.maintenance_done[:, d]
        for k, (_, press) in enumerate(inst.machines):
            cap = min(press.max_maintenance, int(inst.maintenance_done[k, d]) + len(hours))
            if made[k] != n[k, d] or made[k] < press.required_maintenance or made[k] > cap:
                raise VerificationError(f"day {d}, press {names[k]!r}: maintenance count {made[k]} (N {n[k, d]}, "
                                        f"allowed {press.required_maintenance}..{cap})")
    for k, hours in enumerate(inst.demand_blocks):
        if x[:, hours].sum() < inst.demand[k]:
            raise VerificationError(f"demand block {k}: {int(x[:, hours].sum())} units made, {inst.demand[k]} needed")


def verify(inst: PlantInstance, networks: Mapping[Path, FaultNetwork], result: SolveResult, costs: Costs,
           opts: DictConfig) -> Verification:
    """Check the solver's schedule; raise VerificationError naming what disagrees."""
    values = result.values
    check_feasible(inst, values)
    logit, p_onnx = onnx_probabilities(inst, networks, values)
    tol = result.sigmoid_error_bound + float(opts.verification.probability_slack)
    producing = values["x"] > 0
    diff = np.abs(values["p"] - p_onnx)
    max_err = float(diff[producing].max()) if producing.any() else 0.0
    if max_err > tol:
        k, t = np.unravel_index(np.argmax(np.where(producing, diff, -1)), diff.shape)
        r = inst.machines[k][0]
        raise VerificationError(f"press {inst.machine_names[k]!r}, hour {t}: MILP p={values['p'][k, t]:.6f} but "
                                f"onnxruntime gives {p_onnx[k, t]:.6f} (|diff| {max_err:.2e} > tolerance {tol:.2e}) at "
                                f"T={np.atleast_2d(values['T'])[r, t]:.4f}, H={np.atleast_2d(values['H'])[r, t]:.4f}, "
                                f"N={values['N'][k].tolist()}")
    p_milp = np.where(producing, values["p"], p_onnx)
    parts = objective_parts(inst, values, costs, p_milp)
    rel = abs(parts["profit"] - result.objective) / max(abs(result.objective), 1.0)
    if rel > float(opts.verification.objective_rel_tol):
        raise VerificationError(f"objective: MILP {result.objective:.6f} vs numpy {parts['profit']:.6f} "
                                f"(relative difference {rel:.2e} > {opts.verification.objective_rel_tol})")
    true_parts = objective_parts(inst, values, costs, p_onnx)
    return Verification(p_onnx, logit, max_err, tol, parts["profit"], rel, true_parts["profit"], parts,
                        int((~producing).sum()))
