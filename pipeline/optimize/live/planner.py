"""The planner's decisions, without any OPC UA: when to re-plan, and the re-plan itself.

`Replanner.tick(t)` runs once the signals of line time t are in (PlantState) and names the
triggers that hold (conf/replan `triggers`):
- hour: an hour closed;
- stop / restart: a press's running state changed;
- maintenance: a press reported a maintenance its plan did not ask for;
- price: a remaining hour's price moved by more than price_change of the plan's;
- probability: the measured press inputs (their mean over smoothing_s) move a remaining hour's
  failure probability (the fault network at the plan's T, H, N) by more than probability_change,
  and have done so for debounce_s.
`Replanner.replan(t, triggers)` re-plans the hours after the current one (the current hour is
committed: its setpoints were published before it began) from what the day has done so far
(remaining.Progress), warm-started from the current plan, and returns the new version, or None
where it keeps the current one (nothing left to plan, or no schedule it could verify: flagged).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from pipeline.contracts.press_signals import MEASURED, SampleLimits
from pipeline.optimize.costs import Costs
from pipeline.optimize.instance import InfeasibleInstanceError, PlantInstance, build_plant_instance, read_prices
from pipeline.optimize.live.remaining import PastHours, Progress, check_day, remaining_instance, the_press
from pipeline.optimize.live.resolve import RemainingSolver, start_schedule
from pipeline.optimize.live.state import PlantState
from pipeline.optimize.live.versions import PlanVersion, day_ahead
from pipeline.optimize.network import FEATURES, N_INPUT, FaultNetwork
from pipeline.optimize.plant import load_plant
from pipeline.optimize.run import load_networks, prices_path
from pipeline.optimize.sigmoid import sigmoid
from pipeline.optimize.solve import NoScheduleFoundError
from pipeline.optimize.verify import VerificationError

log = logging.getLogger("pipeline.optimize.live")
HOUR = 3600


@dataclass
class Flag:
    line_s: float
    what: str
    detail: str


class Replanner:
    def __init__(self, cfg: DictConfig, day: PlantInstance, net: FaultNetwork, first: PlanVersion, solver: RemainingSolver):
        self.cfg, self.day, self.net, self.solver = cfg, day, net, solver
        self.triggers_cfg = cfg.replan.triggers
        self.plan = first
        self.versions: list[PlanVersion] = [first]
        self.state = PlantState(day.presses, day.hours, float(self.triggers_cfg.smoothing_s), self._sample_limits())
        self.refused: dict[tuple[str, int | None], int] = {}  # (signal, press) -> samples refused
        self.hour: int | None = None
        self.units_before: dict[int, np.ndarray] = {}   # hour -> units made before it (per press)
        self.maint_before: dict[int, np.ndarray] = {}
        self.running_seen: list[bool | None] = [None] * day.presses
        self.unexpected_seen = np.zeros(day.presses, int)
        self.probability_since: float | None = None
        self.pending_inputs: dict[str, float] | None = None  # measured when the probability change began
        self.warm_due = False
        self.priced = first.prices  # the prices of the last re-plan (tried): a change is measured against them
        self.flags: list[Flag] = []

    def observe(self, t_s: float, signals: dict) -> list[str]:
        """Every signal of line time t_s ({(signal, press): value}), then `tick(t_s)`."""
        for (signal, press), value in signals.items():
            self.take(signal, press, value, t_s)
        return self.tick(t_s)

    def take(self, signal: str, press: int | None, value, t_s: float) -> bool:
        """One sample into the state. A refused one (not a number, not finite, beyond what the press
        can report: contracts/press_signals.judge_sample) changes nothing; the first of each signal
        is flagged, the rest counted."""
        why = self.state.update(signal, press, value, t_s)
        if why is None:
            return True
        key = (signal, press)
        self.refused[key] = self.refused.get(key, 0) + 1
        if self.refused[key] == 1:
            self.flags.append(Flag(t_s, "refused", f"{signal}{'' if press is None else f' of press {press}'}: {why}; "
                                                   "the last accepted value holds (later refusals counted)"))
        return False

    def _network_of(self, k: int) -> FaultNetwork:
        return self.net

    def _sample_limits(self) -> list[SampleLimits]:
        """What each press can report: its network's training range (optimize.training_range_tolerance
        beyond it), no negative input, a day's capacity of units, a maintenance per hour at most."""
        tolerance, hours = float(self.cfg.optimize.training_range_tolerance), self.day.hours
        limits = []
        for k, (_, press) in enumerate(self.day.machines):
            ranges = {s: self._network_of(k).accepted_range(s, tolerance) for s in MEASURED}
            limits.append(SampleLimits({s: (max(low, 0.0), high) for s, (low, high) in ranges.items()},
                                       press.max_per_hour * hours, hours))
        return limits

    # ---- triggers
    def tick(self, t_s: float) -> list[str]:
        """Bookkeeping for line time t_s, and the triggers that hold now (none before every
        counter has arrived)."""
        if not self.state.complete():
            return []
        c = min(int(t_s // HOUR), self.day.hours - 1)
        units = np.array(self.state.units, int)
        maint = np.array(self.state.maintenances, int)
        triggers = []
        if self.hour is None:  # the first tick: the hour's planned maintenance assumed done
            self.units_before[c] = units.copy()
            self.maint_before[c] = np.maximum(maint - self.plan.maintenance[:, c], 0)
        elif c > self.hour:
            at_start = t_s == c * HOUR
            for h in range(self.hour + 1, c + 1):
                self.units_before[h] = units.copy() if at_start else self._last_units.copy()
                self.maint_before[h] = self._last_maint.copy()
            self.unexpected_seen[:] = 0
            triggers.append("hour")
        self.hour = c
        self._last_units, self._last_maint = units, maint
        for k, running in enumerate(self.state.running):
            if self.running_seen[k] is not None and running != self.running_seen[k]:
                triggers.append("restart" if running else "stop")
            self.running_seen[k] = running
        unexpected = maint - self.maint_before[c] - self.plan.maintenance[:, c]
        if (unexpected > self.unexpected_seen).any():
            triggers.append("maintenance")
        self.unexpected_seen = np.maximum(self.unexpected_seen, unexpected)
        if self._price_moved(c):
            triggers.append("price")
        if self._probability_moved(t_s, c):
            triggers.append("probability")
        return list(dict.fromkeys(triggers))

    def _price_moved(self, c: int) -> bool:
        known, planned = self.state.prices, self.priced
        rest = slice(c + 1, self.day.hours)
        if known is None or c + 1 >= self.day.hours:
            return False
        change = np.abs(known[rest] - planned[rest]) / np.maximum(np.abs(planned[rest]), 1.0)
        return bool(change.max() > float(self.triggers_cfg.price_change))

    def probability_shift(self, c: int) -> tuple[float, dict[str, float] | None]:
        """(largest |p(measured) - p(planned)| over the remaining hours, the measured inputs)."""
        measured = self.state.smoothed(0)
        if measured is None or c + 1 >= self.day.hours:
            return 0.0, measured
        plan = self.plan
        rest = np.arange(c + 1, self.day.hours)
        p = [self._p(inputs, plan.temperature[rest], plan.humidity[rest], int(plan.count[0]))
             for inputs in (plan.inputs, measured)]
        return float(np.max(np.abs(p[1] - p[0]))), measured

    def _p(self, inputs: dict, T: np.ndarray, H: np.ndarray, n: int) -> np.ndarray:
        cols = {**{s: np.full(len(T), inputs[s]) for s in MEASURED}, "temperature_C": T, "humidity_pct": H,
                N_INPUT: np.full(len(T), float(n))}
        return sigmoid(self.net.logit(np.column_stack([np.asarray(cols[f], float) for f in FEATURES])))

    def _probability_moved(self, t_s: float, c: int) -> bool:
        shift, measured = self.probability_shift(c)
        if shift <= float(self.triggers_cfg.probability_change):
            self.probability_since = self.pending_inputs = None
            return False
        if self.probability_since is None:  # the inputs a re-plan will use, prepared while the debounce runs
            self.probability_since, self.pending_inputs, self.warm_due = t_s, measured, True
        return t_s - self.probability_since >= float(self.triggers_cfg.debounce_s)

    def warm_start(self) -> None:
        """Prepare the network's parts for the current plan's inputs and counts (at start: the first
        re-plan then only builds and solves)."""
        if self.day.hours < 2:
            return
        progress = Progress(1, 0, 0, float(self.plan.humidity[0]), self.plan.inputs, self.plan.prices)
        self.solver.warm(remaining_instance(self.day, progress, self.cfg.costs.machine_energy)[0], 0)

    def warm_up(self) -> bool:
        """Prepare the network's parts for the inputs a coming probability re-plan will use (the
        measured ones when the change began), so that the re-plan itself only builds and solves."""
        if not self.warm_due or self.hour is None or self.hour + 1 >= self.day.hours or self.pending_inputs is None:
            return False
        self.warm_due = False
        done = int(np.maximum(np.array(self.state.maintenances, int),
                              self.maint_before[self.hour] + self.plan.maintenance[:, self.hour]).sum())
        progress = Progress(self.hour + 1, 0, done, float(self.plan.humidity[self.hour]), self.pending_inputs,
                            self.plan.prices)
        inst, _ = remaining_instance(self.day, progress, self.cfg.costs.machine_energy)
        self.solver.warm(inst, done)
        return True

    # ---- the re-plan
    def progress(self, t_s: float) -> tuple[Progress, PastHours]:
        """What the day has done by t_s, and what the committed current hour will still add."""
        plan, day, state = self.plan, self.day, self.state
        c = self.hour
        units = np.array(state.units, int)
        maint = np.array(state.maintenances, int)
        made_c = units - self.units_before[c]
        left = max(0.0, (c + 1) * HOUR - t_s) / HOUR
        running = np.array(state.running, bool)
        rest = np.where(running, np.minimum(np.maximum(plan.units[:, c] - made_c, 0),
                                            np.ceil(the_press(day).max_per_hour * left)), 0).astype(int)
        done = np.maximum(maint, self.maint_before[c] + plan.maintenance[:, c])
        shift, measured = self.probability_shift(c)
        inputs = dict(plan.inputs)
        if measured is not None and shift > float(self.triggers_cfg.probability_change):
            inputs = self.pending_inputs or measured  # adopted only when they matter: noise does not move the plan
        prices = state.prices if state.prices is not None else plan.prices
        past_units = np.zeros(c + 1)
        for h in range(c):
            before = self.units_before.get(h)
            after = self.units_before.get(h + 1)
            past_units[h] = (after - before)[0] if before is not None and after is not None else plan.units[0, h]
        past_units[c] = made_c[0] + rest[0]
        past_inputs = state.hourly_inputs(0, c + 1, plan.inputs)
        for s in MEASURED:
            past_inputs[s][c] = inputs[s]
        past = PastHours(past_units, plan.temperature[: c + 1], plan.humidity[: c + 1], past_inputs)
        progress = Progress(c + 1, int((units + rest).sum()), int(done.sum()), float(plan.humidity[c]), inputs, prices)
        return progress, past

    def replan(self, t_s: float, triggers: list[str], when: str = "") -> PlanVersion | None:
        c = self.hour
        if c is None or c + 1 >= self.day.hours:
            return None
        progress, past = self.progress(t_s)
        plan = self.plan
        self.priced = np.asarray(progress.prices, float)
        self.probability_since = self.pending_inputs = None  # a change is measured against the new plan's inputs
        try:
            inst, shortfall = remaining_instance(self.day, progress, self.cfg.costs.machine_energy)
            rest = slice(progress.first_hour, None)
            start = start_schedule(inst, plan.temperature[rest], plan.humidity[rest], plan.units[:, rest],
                                   plan.maintenance[:, rest])
            solved = self.solver.solve(inst, progress.maintenances_done, start, past)
        except (NoScheduleFoundError, VerificationError, InfeasibleInstanceError) as exc:
            self.flag(t_s, "replan_failed", f"{'+'.join(triggers)}: {exc}; the last proven plan stays")
            return None
        if shortfall:
            self.flag(t_s, "demand_short", f"the remaining hours can make {shortfall} unit(s) fewer than the demand still owed")
        values, result = solved.result.values, solved.result
        first = progress.first_hour
        version = PlanVersion(
            len(self.versions), "+".join(triggers), when or f"{t_s:.0f} s", first,
            np.concatenate([plan.temperature[:first], values["T"]]), np.concatenate([plan.humidity[:first], values["H"]]),
            np.concatenate([plan.units[:, :first], values["x"]], axis=1),
            np.concatenate([plan.maintenance[:, :first], values["b"]], axis=1),
            progress.maintenances_done + values["N"][:, 0], dict(progress.inputs), np.asarray(progress.prices, float),
            result.status, float(result.gap) if math.isfinite(result.gap) else None, float(result.objective),
            float(solved.verification.objective_true), shortfall, solved.build_s, solved.solve_s,
            built=solved.built)
        return self._adopt(t_s, version, result)

    def _adopt(self, t_s: float, version, result):
        """`version` becomes the current plan; one not proven is flagged with its gap."""
        if result.status != "optimal":
            self.flag(t_s, "not_proven", f"version {version.version}: {result.status}, gap {result.gap:.2e} "
                                         f"(verified feasible; published with its gap)")
        self.plan = version
        self.versions.append(version)
        return version

    def flag(self, t_s: float, what: str, detail: str) -> None:
        self.flags.append(Flag(t_s, what, detail))
        log.warning("%s: %s", what, detail)


def build_planner(cfg: DictConfig, plan_file: str | Path | None = None) -> tuple[Replanner, object]:
    """(the Replanner of the configured day, starting from its day-ahead plan; the day's first hour).
    A plant of several presses gets the plant re-planner (plant_replan.py)."""
    day = build_plant_instance(cfg, read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours)), load_plant(cfg))
    if day.presses > 1:
        from pipeline.optimize.live.plant_replan import build_plant_planner

        return build_plant_planner(cfg, day, plan_file), day.timestamps[0]
    check_day(day)
    net = load_networks(day, float(cfg.optimize.max_abs_weight))[the_press(day).network_file]
    plan_file = Path(plan_file or cfg.replan.plan)
    metrics_file = plan_file.with_name("metrics.json")
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
    first = day_ahead(plan_file, day, metrics)
    costs = Costs.from_cfg(cfg.costs)
    solver = RemainingSolver(net, cfg.optimize, costs, cfg.solver, float(cfg.replan.solve.time_limit_s))
    return Replanner(cfg, day, net, first, solver), day.timestamps[0]
