"""Every schedule is checked outside the solver, in plain numpy and onnxruntime.

- numpy checks every constraint of the study on the schedule itself (boxes, capacity,
  maintenance counts, demand): a decomposition's assembled schedule is checked like any other.
- onnxruntime evaluates the ONNX file itself at each hour's (P, T_t, S, V, H_t, N): the
  MILP's p_t must lie within the sigmoid PWL's error bound (plus a small slack for float32
  and LP tolerances) of sigmoid(logit). Where x_t = 0 the MILP leaves p_t free (it has no
  effect on the objective); those hours are counted, and the schedule reports onnxruntime's p.
- numpy recomputes the whole objective from the schedule (|.| from T and H themselves, no
  solver variables): it must match the MILP's objective within a relative 1e-6 (conf).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from pipeline.core.onnx_io import session
from pipeline.optimize.costs import Costs, objective_parts
from pipeline.optimize.instance import Instance
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


def onnx_probabilities(inst: Instance, net: FaultNetwork, values: dict) -> tuple[np.ndarray, np.ndarray]:
    """onnxruntime's logit and sigmoid at every (press, hour) of the schedule."""
    K, H = inst.presses, inst.hours
    raw = np.zeros((K * H, len(FEATURES)))
    for k in range(K):
        rows = slice(k * H, (k + 1) * H)
        raw[rows, FEATURES.index("pressure_kN")] = inst.fixed["pressure_kN"]
        raw[rows, FEATURES.index("speed_rpm")] = inst.fixed["speed_rpm"]
        raw[rows, FEATURES.index("vibration_mm_s")] = inst.fixed["vibration_mm_s"]
        raw[rows, FEATURES.index("temperature_C")] = values["T"]
        raw[rows, FEATURES.index("humidity_pct")] = values["H"]
        raw[rows, FEATURES.index("maintenance_cycles")] = [values["N"][k, inst.day_of(t)] for t in range(H)]
    logit = _run(session(net.path), net.graph_input(raw)).reshape(K, H).astype(float)
    return logit, sigmoid(logit)


def _run(sess, x: np.ndarray) -> np.ndarray:
    """The graph's output on rows x, in batches of its fixed batch size if it has one (a
    network exported without a dynamic batch axis takes [1, 6])."""
    spec = sess.get_inputs()[0]
    batch = spec.shape[0] if isinstance(spec.shape[0], int) and spec.shape[0] > 0 else len(x)
    parts = [sess.run(None, {spec.name: x[i:i + batch]})[0] for i in range(0, len(x), batch)]
    return np.concatenate(parts).reshape(len(x), -1)[:, 0]


def check_feasible(inst: Instance, values: dict, tol: float = 1e-6) -> None:
    """Every constraint of the study, on the schedule itself: setpoint boxes, units within each
    hour's capacity, one maintenance per hour at most, the maintenance count per press and day in
    its range, the demand of every block met. VerificationError naming the first violation."""
    x, b, n = values["x"], values["b"], values["N"]
    for name, series, (lo, hi) in (("T", values["T"], inst.temperature_box), ("H", values["H"], inst.humidity_box)):
        bad = np.flatnonzero((series < lo - tol) | (series > hi + tol))
        if bad.size:
            raise VerificationError(f"hour {bad[0]}: {name}={series[bad[0]]:.6f} outside [{lo}, {hi}]")
    capacity = inst.max_per_hour - (inst.max_per_hour - inst.capacity_in_maintenance_hour) * b
    if (x < 0).any() or (x > capacity).any() or not np.isin(b, (0, 1)).all():
        k, t = np.argwhere((x < 0) | (x > capacity) | ~np.isin(b, (0, 1)))[0]
        raise VerificationError(f"press {k}, hour {t}: {x[k, t]} units with maintenance {b[k, t]} (capacity {capacity[k, t]})")
    for d, hours in enumerate(inst.days):
        made = b[:, hours].sum(axis=1)
        cap = min(inst.max_maintenance, len(hours))
        if (made != n[:, d]).any() or (made < inst.required_maintenance).any() or (made > cap).any():
            raise VerificationError(f"day {d}: maintenance counts {made.tolist()} (N {n[:, d].tolist()}, allowed "
                                    f"{inst.required_maintenance}..{cap} per press)")
    for k, hours in enumerate(inst.demand_blocks):
        if x[:, hours].sum() < inst.demand[k]:
            raise VerificationError(f"demand block {k}: {int(x[:, hours].sum())} units made, {inst.demand[k]} needed")


def verify(inst: Instance, net: FaultNetwork, result: SolveResult, costs: Costs, opts: DictConfig) -> Verification:
    """Check the solver's schedule; raise VerificationError naming what disagrees."""
    values = result.values
    check_feasible(inst, values)
    logit, p_onnx = onnx_probabilities(inst, net, values)
    tol = result.sigmoid_error_bound + float(opts.verification.probability_slack)
    producing = values["x"] > 0
    diff = np.abs(values["p"] - p_onnx)
    max_err = float(diff[producing].max()) if producing.any() else 0.0
    if max_err > tol:
        k, t = np.unravel_index(np.argmax(np.where(producing, diff, -1)), diff.shape)
        raise VerificationError(f"press {k}, hour {t}: MILP p={values['p'][k, t]:.6f} but onnxruntime gives "
                                f"{p_onnx[k, t]:.6f} (|diff| {max_err:.2e} > tolerance {tol:.2e}) at "
                                f"T={values['T'][t]:.4f}, H={values['H'][t]:.4f}, N={values['N'][k].tolist()}")
    p_milp = np.where(producing, values["p"], p_onnx)
    parts = objective_parts(inst, values, costs, p_milp)
    rel = abs(parts["profit"] - result.objective) / max(abs(result.objective), 1.0)
    if rel > float(opts.verification.objective_rel_tol):
        raise VerificationError(f"objective: MILP {result.objective:.6f} vs numpy {parts['profit']:.6f} "
                                f"(relative difference {rel:.2e} > {opts.verification.objective_rel_tol})")
    true_parts = objective_parts(inst, values, costs, p_onnx)
    return Verification(p_onnx, logit, max_err, tol, parts["profit"], rel, true_parts["profit"], parts,
                        int((~producing).sum()))
