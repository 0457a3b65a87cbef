"""Re-planning a plant of several presses (optimize/plant with more than one press): the one-press
planner's triggers over every press, and each re-plan the optimiser's own decomposition
(decompose.PlantSchedule) of the remaining hours of the whole plant.

What a re-plan at line time t (in hour c) fixes, per press, and what it decides:
- the hours up to c are past or committed (their setpoints and targets were published); each
  press's units made so far, and what it will still make in hour c, count toward the shared
  demand; its maintenances done (and one planned in hour c) toward its own day's count, which its
  fault network sees (PlantInstance.remaining: N = done + planned);
- each room starts from its committed hour's humidity setpoint;
- each press runs at its own inputs: the plan's, or its measured ones where they move one of its
  remaining hours' failure probability by more than probability_change (the one-press trigger,
  per press); a press kind of count > 1 is split into its physical presses for that;
- a press that stands still (Running false) is planned at nothing until it restarts (the restart
  re-plans): the other presses cover the demand where they can; the rest is a shortfall, flagged;
- the remaining hours are solved by PlantSchedule within replan.solve.plant_time_limit_s, the
  schedule verified (verify.py, onnxruntime); its status and proven gap are published with it.

Warm start: one Runner for the whole day, so each press kind's network parts (bounds, pieces,
per maintenance count done) and every day problem already solved are reused by later re-plans.
Not modelled here (unlike the one-press planner): the past hours' failure cost's dependence on the
day's count; a plant re-plan values the remaining hours only.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.costs import machine_kwh_per_unit
from pipeline.contracts.press_signals import MEASURED, read_plan
from pipeline.core.validation import DataValidationError
from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import PlantSchedule
from pipeline.optimize.instance import InfeasibleInstanceError, PlantInstance
from pipeline.optimize.live.planner import HOUR, Replanner
from pipeline.optimize.live.plant_version import PlantVersion, plant_day_ahead
from pipeline.optimize.live.versions import day_ahead
from pipeline.optimize.network import FEATURES, N_INPUT
from pipeline.optimize.plant import Plant
from pipeline.optimize.run import load_networks, runner_for
from pipeline.optimize.sigmoid import sigmoid
from pipeline.optimize.solve import NoScheduleFoundError, ScheduleSolver
from pipeline.optimize.verify import VerificationError, verify


def check_plant_day(day: PlantInstance) -> None:
    if len(day.days) != 1 or len(day.demand_blocks) != 1:
        raise ValueError(f"optimize.horizon_hours = {day.hours}: the live planner re-plans one day (at most 24 hours)")


def plant_at(day: PlantInstance, inputs: dict[str, dict[str, float]], running: list[bool], energy: DictConfig,
             prices: np.ndarray) -> tuple[PlantInstance, list[int]]:
    """(the day with each running press a press of its own at its `inputs` (press name -> P, S, V),
    the stopped ones left out (a room left empty too) and the prices now known; the plant rows kept)."""
    rooms, kept, k = [], [], 0
    names = day.machine_names
    for room in day.plant.rooms:
        presses = []
        for press in room.presses:
            for _ in range(press.count):
                if running[k]:
                    now = {n: float(inputs[names[k]][n]) for n in press.fixed_inputs}
                    stated = press.machine_kwh_per_unit != machine_kwh_per_unit(energy, press.fixed_inputs)
                    kwh = press.machine_kwh_per_unit if stated else float(machine_kwh_per_unit(energy, now))
                    presses.append(replace(press, name=names[k], count=1, fixed=tuple(now.items()),
                                           machine_kwh_per_unit=kwh))
                    kept.append(k)
                k += 1
        if presses:
            rooms.append((replace(room, presses=tuple(presses)), day.plant.rooms.index(room)))
    plant = Plant(tuple(r for r, _ in rooms), day.plant.source, day.plant.networks)
    start = tuple(day.humidity_initial[i] for _, i in rooms)
    return replace(day, plant=plant, price=np.asarray(prices, float), humidity_initial=start,
                   maintenance_done=None), kept


class PlantSolver:
    """The remaining hours of a plant, by the day-ahead optimiser's decomposition, verified."""

    def __init__(self, cfg: DictConfig, networks: dict):
        self.cfg, self.networks = cfg, networks
        self.costs = Costs.from_cfg(cfg.costs)
        self.time_limit_s = float(cfg.replan.solve.plant_time_limit_s)
        self.solver_cfg = OmegaConf.merge(cfg.solver, {"time_limit_s": self.time_limit_s})
        self.runner = runner_for(cfg, networks)   # kept all day: its caches are the warm start

    def build(self, inst: PlantInstance) -> PlantSchedule:
        return PlantSchedule.build(inst, self.networks, self.costs, self.cfg.optimize.formulation, self.runner)

    def solve(self, inst: PlantInstance):
        schedule = self.build(inst)
        result = schedule.solve(self.costs, ScheduleSolver(self.solver_cfg, self.cfg.optimize.search))
        return result, verify(inst, self.networks, result, self.costs, self.cfg.optimize)


class PlantReplanner(Replanner):
    """Replanner for several presses: the triggers of every press, the plant re-planned together."""

    def __init__(self, cfg: DictConfig, day: PlantInstance, networks: dict, first: PlantVersion, solver: PlantSolver):
        super().__init__(cfg, day, networks, first, solver)
        self.names = day.machine_names
        self.pending_inputs: dict | None = None

    def _network_of(self, k: int) -> FaultNetwork:
        return self.net[self.day.machines[k][1].network_file]

    # ---- the probability trigger, press by press
    def press_shifts(self, c: int) -> tuple[np.ndarray, dict[str, dict[str, float]] | None]:
        """(each press's largest |p(measured) - p(planned)| over the remaining hours, the measured inputs by name)."""
        plan, K = self.plan, self.day.presses
        measured = {self.names[k]: self.state.smoothed(k) for k in range(K)}
        if any(m is None for m in measured.values()) or c + 1 >= self.day.hours:
            return np.zeros(K), None
        rest = np.arange(c + 1, self.day.hours)
        shifts = np.zeros(K)
        for k, (r, press) in enumerate(self.day.machines):
            net = self.net[press.network_file]
            p = [self._press_p(net, inputs, plan.temperature[r, rest], plan.humidity[r, rest], int(plan.count[k]))
                 for inputs in (plan.inputs[self.names[k]], measured[self.names[k]])]
            shifts[k] = float(np.max(np.abs(p[1] - p[0])))
        return shifts, measured

    @staticmethod
    def _press_p(net, inputs: dict, T: np.ndarray, H: np.ndarray, n: int) -> np.ndarray:
        cols = {**{s: np.full(len(T), inputs[s]) for s in MEASURED}, "temperature_C": T, "humidity_pct": H,
                N_INPUT: np.full(len(T), float(n))}
        return sigmoid(net.logit(np.column_stack([np.asarray(cols[f], float) for f in FEATURES])))

    def probability_shift(self, c: int) -> tuple[float, dict | None]:
        shifts, measured = self.press_shifts(c)
        return float(shifts.max()) if len(shifts) else 0.0, measured

    def _inputs_now(self, c: int) -> dict[str, dict[str, float]]:
        """Each press's inputs for a re-plan: measured where they moved its probability enough."""
        shifts, measured = self.press_shifts(c)
        inputs = {name: dict(v) for name, v in self.plan.inputs.items()}
        if measured is None:
            return inputs
        chosen = self.pending_inputs or measured
        for k, name in enumerate(self.names):
            if shifts[k] > float(self.triggers_cfg.probability_change):
                inputs[name] = dict(chosen[name])
        return inputs

    # ---- warm start
    def _warm(self, first: int, inputs: dict) -> None:
        """Prepare the network parts of a re-plan from `first` at `inputs`, the plan's past as done."""
        plan = self.plan
        inst, _ = plant_at(self.day, inputs, [True] * self.day.presses, self.cfg.costs.machine_energy, plan.prices)
        done = {name: int(plan.maintenance[k, :first].sum()) for k, name in enumerate(self.names)}
        try:
            self.solver.build(inst.remaining(first, None, int(plan.units[:, :first].sum()), done))
        except InfeasibleInstanceError:  # nothing to prepare: the re-plan itself says why
            pass

    def warm_start(self) -> None:
        if self.day.hours >= 2:
            self._warm(1, self.plan.inputs)

    def warm_up(self) -> bool:
        if not self.warm_due or self.hour is None or self.hour + 1 >= self.day.hours:
            return False
        self.warm_due = False
        self._warm(self.hour + 1, self._inputs_now(self.hour))
        return True

    # ---- the re-plan
    def remaining(self, t_s: float) -> tuple[PlantInstance, list[int], dict, np.ndarray, int]:
        """(the remaining hours' instance, the plant rows it plans, the inputs, the counts done, the
        demand it cannot make)."""
        plan, day, state, c = self.plan, self.day, self.state, self.hour
        units = np.array(state.units, int)
        maint = np.array(state.maintenances, int)
        running = np.array(state.running, bool)
        made_c = units - self.units_before[c]
        left = max(0.0, (c + 1) * HOUR - t_s) / HOUR
        top = np.array([p.max_per_hour for _, p in day.machines])
        rest = np.where(running, np.minimum(np.maximum(plan.units[:, c] - made_c, 0), np.ceil(top * left)), 0)
        done = np.maximum(maint, self.maint_before[c] + plan.maintenance[:, c])
        inputs = self._inputs_now(c)
        prices = state.prices if state.prices is not None else plan.prices
        whole, kept = plant_at(day, inputs, list(running), self.cfg.costs.machine_energy, prices)
        if not kept:
            raise InfeasibleInstanceError("every press stands still: nothing to re-plan")
        first = c + 1
        n = day.hours - first
        capacity = 0
        for k in kept:
            press = day.machines[k][1]
            need = min(max(press.required_maintenance - int(done[k]), 0), n)
            capacity += n * press.max_per_hour - need * (press.max_per_hour - press.capacity_in_maintenance_hour)
        owed = max(int(day.demand[0]) - int((units + rest).sum()), 0)
        short = max(owed - capacity, 0)
        rooms = [room.name for room in whole.plant.rooms]
        humidity = {name: float(np.clip(plan.humidity[plan.rooms.index(name), c],
                                         *whole.plant.rooms[i].humidity_box)) for i, name in enumerate(rooms)}
        inst = whole.remaining(first, humidity, int(day.demand[0]) - (owed - short),
                               {self.names[k]: int(done[k]) for k in kept})
        return inst, kept, inputs, done, short

    def replan(self, t_s: float, triggers: list[str], when: str = "") -> PlantVersion | None:
        c = self.hour
        if c is None or c + 1 >= self.day.hours:
            return None
        plan = self.plan
        self.priced = np.asarray(self.state.prices if self.state.prices is not None else plan.prices, float)
        try:
            inst, kept, inputs, done, short = self.remaining(t_s)
            self.probability_since = self.pending_inputs = None
            result, ver = self.solver.solve(inst)
        except (NoScheduleFoundError, VerificationError, InfeasibleInstanceError, ValueError) as exc:
            self.probability_since = self.pending_inputs = None
            self.flag(t_s, "replan_failed", f"{'+'.join(triggers)}: {exc}; the last proven plan stays")
            return None
        if short:
            self.flag(t_s, "demand_short", f"the running presses' remaining hours can make {short} unit(s) fewer "
                                           "than the demand still owed")
        version = self._version(t_s, triggers, when, inst, kept, inputs, done, short, result, ver)
        return self._adopt(t_s, version, result)

    def _version(self, t_s, triggers, when, inst, kept, inputs, done, short, result, ver) -> PlantVersion:
        plan, first = self.plan, self.hour + 1
        v = result.values
        T, H = plan.temperature.copy(), plan.humidity.copy()   # an empty room keeps its setpoints
        units, maint = plan.units.copy(), plan.maintenance.copy()
        units[:, first:], maint[:, first:] = 0, 0
        count = np.asarray(done, int).copy()
        for i, room in enumerate(inst.plant.rooms):
            r = plan.rooms.index(room.name)
            T[r, first:], H[r, first:] = v["T"][i], v["H"][i]
        for row, k in enumerate(kept):
            units[k, first:], maint[k, first:] = v["x"][row], v["b"][row]
            count[k] = int(v["N"][row, 0])
        return PlantVersion(
            len(self.versions), "+".join(triggers), when or f"{t_s:.0f} s", first, T, H, units, maint, count,
            inputs, np.asarray(self.priced, float), result.status,
            float(result.gap) if math.isfinite(result.gap) else None, float(result.objective),
            float(ver.objective_true), short, None, result.seconds, names=plan.names, rooms=plan.rooms,
            room_of=plan.room_of)


def build_plant_planner(cfg: DictConfig, day: PlantInstance, plan_file=None) -> PlantReplanner:
    """The plant re-planner of `day`, from its day-ahead plan (replan.plan, the optimize stage's
    schedule.csv of this plant)."""
    check_plant_day(day)
    plan_file = Path(plan_file or cfg.replan.plan)
    metrics_file = plan_file.with_name("metrics.json")
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
    first = plant_day_ahead(day_ahead(plan_file, day, metrics), read_plan(plan_file), day)
    names = [str(n) for n in read_plan(plan_file).query("hour == 0").get("press_name", [])]
    if names and names != day.machine_names:
        raise DataValidationError(plan_file, f"presses {names}, but optimize's plant has {day.machine_names}: run "
                                             "`dvc repro optimize` with this plant", column="press_name")
    networks = load_networks(day, float(cfg.optimize.max_abs_weight))
    return PlantReplanner(cfg, day, networks, first, PlantSolver(cfg, networks))
