"""A plant of several presses, rooms or days, solved as single-press day problems with a proven
global bound, and a schedule that satisfies every shared constraint.

What couples the parts: the presses of a room share its climate (T_t, H_t) and pay its energy
once; consecutive days share the humidity at midnight; all presses share the demand (per day, or
over the horizon). The rooms are otherwise independent.

- Bound (exact arithmetic on proven sub-problem bounds). Every press gets its own copy of its
  room's climate and pays an equal share of the room's energy (any shared-climate schedule is one
  of those, at the same cost); every day after the first chooses its own starting humidity (the
  midnight change then costs nothing); the shared demand of each block b is priced by a Lagrange
  multiplier lambda_b >= 0 (a bonus per unit made, minus lambda_b D_b). What is left are
  single-press day problems, one per press kind, climate box, energy share and day (`Group`s,
  subproblems.py): identical ones are solved once, distinct ones in parallel, and
      UB(lambda) = sum_b [ sum_{d in b} sum_g n_g UB_gd(lambda_b) - lambda_b D_b ]
  bounds the optimum for every lambda >= 0 (n_g: presses of group g). lambda_b is searched with
  the subgradient (units made - D_b): bisection steered by the two sides' tangent lines. A room
  of several press groups is then bounded with its climate shared (room_dp.py) at the best
  lambda, which replaces its presses' separate bounds in UB; where that room-day is its block's
  whole demand, each of its count vectors takes its own demand price (room_exact.py).
- Schedule. A room whose presses are all of one group runs that group's plan on all of them: the
  climate is shared by construction. A room of different presses takes, of the climates its
  presses' plans chose, the one under which all its presses together (each re-planned exactly
  for that climate: best maintenance count, maintenance hours and units, its network's p at the
  room's setpoints) earn most after the room's energy. Days are chained: a day whose plan starts
  at another humidity than the day before ended is re-solved with its start fixed (one-group
  rooms) or pays the change. If the presses miss a block's demand, units are added where a unit
  costs least (exact for the fixed climate and maintenance); surplus units that lose money are
  taken back down to the demand. The reported gap is the distance to the bound: never hidden.
  What is exact: every schedule's value and feasibility, every bound. What is bounded: the
  schedule's optimality, by that gap (for one press and days with their own demand, each day's
  own proven gap).
"""
from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
from omegaconf import DictConfig

from pipeline.optimize.costs import Costs
from pipeline.optimize.day_dp import cells_of
from pipeline.optimize.demand_split import MAX_LEVELS, UnitDay, level_size, levels_needed, piece, split_bound
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model, shared_parts
from pipeline.optimize.hour_values import HourValues
from pipeline.optimize.instance import Instance, PlantInstance
from pipeline.optimize.network import FaultNetwork
from pipeline.optimize.room_dp import MAX_VECTORS, count_vectors, crossings, press_day, room_dp, tightened
from pipeline.optimize.room_exact import exact_room_dp, exact_tightened, shared_hours
from pipeline.optimize.solve import NoScheduleFoundError, ScheduleSolver, SolveResult, SubResult
from pipeline.optimize.subproblems import DayData, DaySolve, DayTask, Group, Runner, day_instance

log = logging.getLogger(__name__)

MIN_DAY_SECONDS = 2.0  # a chain re-solve with less time than this keeps the day's relaxed plan
MIN_TASK_SECONDS = 2.0  # a day problem's least MILP time (its DP, whatever the time, gives a schedule)
LAMBDA_STEPS = 8       # Lagrange steps per demand block (bound only)
ROOM_CELLS = 256       # humidity cells of a room's shared-humidity DP (room_dp.py)
POLISH_SHARE = 0.9     # the room-day MILPs (different presses, N fixed) stop by this share of the time limit
POLISH_GROUPS = 3      # ... and run for rooms of at most this many press groups (larger ones seldom end in time)
EXACT_MU_STEPS = 40    # maintenance-price steps of the first count vector's shared-temperature bound (room_exact.py)
EXACT_MU_STEPS_WARM = 20  # ... and of each later one, from the first one's prices
EXACT_DEMAND_STEPS = 40  # steps of a vector's own demand and maintenance prices (where the room-day is its block)
EXACT_MAX_VECTORS = 4096  # count vectors a room's shared bound may look at (each ~0.1-0.5 s: the time limit stops it first)


@dataclass(frozen=True)
class Unit:
    """The presses of one group in one room: they run one plan."""

    group: int
    room: int
    rows: tuple[int, ...]   # plant machine indices

    @property
    def count(self) -> int:
        return len(self.rows)


@dataclass
class Candidate:
    """One block's plans, one per (unit, day of the block), at the block's price `lam`."""

    plans: dict
    lam: float
    relaxed: bool = True  # its plans' bounds are the Lagrangian's at lam (False: each press-day held to
                          # its own share of the demand, a schedule only: no bound of the plant)


@dataclass
class Block:
    """The Lagrange search of one demand block."""

    days: list[int]
    demand: int
    lo: tuple | None = None       # (lambda, phi, slope) with units made < demand
    hi: tuple | None = None       # ... with units made >= demand
    bound: float = math.inf
    done: bool = False
    steps: int = 0
    candidates: list = field(default_factory=list)


@dataclass
class PlantSchedule:
    """A plant (rooms, presses, days) as single-press day problems with a proven bound."""

    plant: PlantInstance
    networks: dict
    options: DictConfig
    groups: list[Group]
    units: list[Unit]
    runner: Runner
    warnings: list[str] = field(default_factory=list)
    build_seconds: float | None = None
    bound_seconds: float = 0.0
    costs: Costs | None = None
    report: dict = field(default_factory=dict)
    enc_cache: dict = field(default_factory=dict)
    hv_cache: dict = field(default_factory=dict)
    room_cache: dict = field(default_factory=dict)   # (room, day, price) -> (bound, climate) of the room DP
    cell_cache: dict = field(default_factory=dict)   # (group, N) -> CellValues of the room DP

    @classmethod
    def build(cls, plant: PlantInstance, networks: dict[object, FaultNetwork], costs: Costs, opts: DictConfig,
              runner: Runner) -> "PlantSchedule":
        groups: dict[tuple, Group] = {}
        units: list[Unit] = []
        for r, room in enumerate(plant.plant.rooms):
            rows = plant.rows_of(r)
            share = 1.0 / len(rows)
            by_group: dict[tuple, list[int]] = {}
            for k in rows:
                g = Group(plant.machines[k][1], room.temperature_box, room.humidity_box, share, ())
                # presses of one kind that made different maintenances before a re-plan are different
                # sub-problems (their counts N differ), so never one plan
                key = (g.key, tuple(int(n) for n in plant.maintenance_done[k]))
                by_group.setdefault(key, []).append(k)
                groups.setdefault(key, g)
                groups[key] = replace(groups[key], rows=groups[key].rows + (k,))
            for key, members in by_group.items():
                units.append(Unit(list(groups).index(key), r, tuple(members)))
        plan = cls(plant, dict(networks), opts, list(groups.values()), units, runner, costs=costs)
        start = time.perf_counter()
        runner.prepare(list({(plan.groups[u.group].key, *plan._day(d, u).shared_key(plan.groups[u.group].press)):
                             (plan.groups[u.group], plan._day(d, u)) for u in units
                             for d in range(len(plant.days))}.values()))
        plan.bound_seconds = time.perf_counter() - start
        return plan

    @property
    def instance(self) -> PlantInstance:
        return self.plant

    @property
    def coupled(self) -> bool:
        """Is the demand shared (several presses, or one demand for the horizon)?"""
        return len(self.plant.machines) > 1 or len(self.plant.demand_blocks) != len(self.plant.days)

    def units_in(self, r: int) -> list[int]:
        return [u for u, unit in enumerate(self.units) if unit.room == r]

    def block_days(self) -> list[list[int]]:
        return [[d for d, day in enumerate(self.plant.days) if day[0] in hours] for hours in self.plant.demand_blocks]

    # --- the tasks -----------------------------------------------------------------------------

    def _day(self, d: int, unit: Unit) -> DayData:
        hours = self.plant.days[d]
        done = int(self.plant.maintenance_done[unit.rows[0], d])
        return DayData(tuple(self.plant.timestamps[hours]), tuple(float(v) for v in self.plant.price[hours]),
                       tuple(float(v) for v in self.plant.outside_temperature[hours]),
                       self.plant.usd_per_kwh_per_usd_per_mwh, done)

    def _task(self, u: int, d: int, costs: Costs, limit: float, start="auto", demand: int | None = None) -> DayTask:
        unit = self.units[u]
        if start == "auto":
            start = self.plant.humidity_initial[unit.room] if d == 0 else None
        note = (f"day {d + 1} of {len(self.plant.days)}: its share of solver.time_limit_s = "
                f"{getattr(self, '_total', limit):g} s for the whole horizon, the time left split over the day "
                "problems left; raise solver.time_limit_s or shorten optimize.horizon_hours")
        return DayTask(self.groups[unit.group], self._day(d, unit), start, demand, costs, limit, note)

    def _limit(self, begin: float, total: float, tasks: int, rounds_left: int, first: bool = False) -> float:
        """A task's time: the first round gets half of what is left (later rounds reuse its
        models and mostly confirm), the others share the rest; within a round, its tasks share
        it, as many at once as there are workers."""
        left = max(total - (time.perf_counter() - begin), 0.0)
        per_round = left / 2 if first else left / max(rounds_left, 1)
        return max(per_round / max(math.ceil(tasks / self.runner.workers), 1), MIN_TASK_SECONDS)

    # --- the bound -----------------------------------------------------------------------------

    def _relax(self, lams: dict[int, float], blocks: list[Block], costs: Costs, limit: float,
               own_demand: bool = False) -> dict:
        """Every unit's day plan at each block's price (one batch of tasks)."""
        keys, tasks = [], []
        for b, lam in lams.items():
            priced = replace(costs, unit_bonus=lam)
            for d in blocks[b].days:
                for u in range(len(self.units)):
                    keys.append((u, d))
                    tasks.append(self._task(u, d, priced, limit, demand=self.plant.demand[b] if own_demand else None))
        return dict(zip(keys, self.runner.run(tasks)))

    def _phi(self, block: Block, plans: dict, lam: float) -> tuple[float, int]:
        ub = sum(self.units[u].count * plans[u, d].bound for d in block.days for u in range(len(self.units)))
        made = sum(self.units[u].count * plans[u, d].made for d in block.days for u in range(len(self.units)))
        return ub - lam * block.demand, made

    def _lambda_max(self, costs: Costs) -> float:
        """A price at which every unit anywhere pays: the bracket's right end."""
        kappa = self.plant.usd_per_kwh_per_usd_per_mwh
        energy = max(p.machine_kwh_per_unit for _, p in self.plant.machines)
        return costs.revenue + costs.penalty + max(float(self.plant.price.max()), 0.0) * kappa * energy + costs.maintenance

    @staticmethod
    def _next_lambda(block: Block, lam_max: float) -> float:
        """0 first, then the bracket's right end, then where the two sides' tangents meet (kept
        inside the bracket's middle 80 %)."""
        if block.lo is None:
            return 0.0
        if block.hi is None:
            return lam_max
        (l1, f1, s1), (l2, f2, s2) = block.lo, block.hi
        cross = (f2 - f1 + s1 * l1 - s2 * l2) / (s1 - s2) if s1 != s2 else (l1 + l2) / 2
        cross = cross if math.isfinite(cross) else (l1 + l2) / 2
        return float(np.clip(cross, l1 + 0.1 * (l2 - l1), l2 - 0.1 * (l2 - l1)))

    def relaxation(self, costs: Costs, begin: float, total: float, gap: float) -> list[Block]:
        """Each demand block's bound (at its best Lagrange price) and its candidate plan sets."""
        blocks = [Block(days, int(demand)) for days, demand in zip(self.block_days(), self.plant.demand)]

        def keep(block: Block, plans: dict, lam: float) -> None:
            block.candidates.append(Candidate({(u, d): plans[u, d] for d in block.days
                                               for u in range(len(self.units))}, lam))

        if not self.coupled:  # one press, demand per day: each day keeps its own demand
            plans = self._relax({b: 0.0 for b in range(len(blocks))}, blocks, costs,
                                self._limit(begin, total, len(self.plant.days), 2, True), own_demand=True)
            for block in blocks:
                block.bound, block.done, block.steps = self._phi(block, plans, 0.0)[0], True, 1
                keep(block, plans, 0.0)
            return blocks
        lam_max = self._lambda_max(costs)
        for step in range(LAMBDA_STEPS):
            open_blocks = [b for b, block in enumerate(blocks) if not block.done]
            if not open_blocks:
                break
            lams = {b: self._next_lambda(blocks[b], lam_max) for b in open_blocks}
            n_tasks = sum(len(blocks[b].days) for b in open_blocks) * len(self.units)
            plans = self._relax(lams, blocks, costs, self._limit(begin, total, n_tasks, LAMBDA_STEPS + 1 - step, step == 0))
            for b in open_blocks:
                self._step(blocks[b], plans, lams[b], gap)
                keep(blocks[b], plans, lams[b])
            if time.perf_counter() - begin > 0.7 * total:
                break
        self._shares(blocks, costs, begin, total)
        return blocks

    def _shares(self, blocks: list[Block], costs: Costs, begin: float, total: float) -> None:
        """Where a block's demand binds: one more candidate, every press-day its share of the
        demand as its own demand (the shares of the plan at the smallest price that meets it),
        each solved exactly for that share."""
        tasks, keys = [], []
        for b, block in enumerate(blocks):
            if block.hi is None or block.hi[0] == 0.0:
                continue
            plans = next(c.plans for c in block.candidates if c.lam == block.hi[0])
            made = {key: plan.made for key, plan in plans.items()}
            total_made = sum(self.units[u].count * m for (u, _), m in made.items())
            for (u, d), m in made.items():
                keys.append((b, u, d))
                share = math.ceil(m * block.demand / max(total_made, 1) - 1e-9)
                tasks.append(self._task(u, d, replace(costs, unit_bonus=0.0), 0.0, demand=share))
        if not tasks:
            return
        limit = self._limit(begin, total, len(tasks), 2)
        answers = self.runner.run([replace(t, time_limit=limit) for t in tasks])
        for b in sorted({b for b, _, _ in keys}):
            plans = {(u, d): a for (bb, u, d), a in zip(keys, answers) if bb == b}
            if all(a.values is not None for a in plans.values()):
                blocks[b].candidates.append(Candidate(plans, 0.0, relaxed=False))

    def _step(self, block: Block, plans: dict, lam: float, gap: float) -> None:
        phi, made = self._phi(block, plans, lam)
        block.bound = min(block.bound, phi)
        block.steps += 1
        point = (lam, phi, made - block.demand)
        if made >= block.demand:
            block.hi = point if block.hi is None or lam <= block.hi[0] else block.hi
            block.done = lam == 0.0  # the free plans meet the demand: lambda = 0 is optimal
        else:
            block.lo = point if block.lo is None or lam >= block.lo[0] else block.lo
        if block.lo is not None and block.hi is not None:
            (l1, f1, s1), (l2, f2, s2) = block.lo, block.hi
            cross = (f2 - f1 + s1 * l1 - s2 * l2) / (s1 - s2) if s1 != s2 else l1
            floor = f1 + s1 * (float(np.clip(cross, l1, l2)) - l1)  # where the tangents meet: min phi >= it
            block.done = block.bound - floor <= 0.25 * gap * max(abs(block.bound), 1.0) or l2 - l1 < 1e-6

    # --- a binding demand: its exact split over production levels (demand_split.py) ----------

    def split_demand(self, blocks: list[Block], costs: Costs, deadline: float) -> list[dict]:
        """Each block whose demand binds (no plan at lambda = 0 meets it) bounded by the best split
        of its levels over its unit-days (demand_split.py); the block keeps the lower bound.
        Returns, per block bounded so, its Lagrange and split bounds and the level DPs run."""
        out = []
        if not bool(self.options.get("demand_split", True)) or not self.coupled:
            return out
        for b, block in enumerate(blocks):
            relaxed = [c for c in block.candidates if c.relaxed]
            if block.hi is None or block.hi[0] <= 0.0 or not relaxed:
                continue
            caps = [c for u in self.units for c in (self.groups[u.group].press.max_per_hour,
                                                    self.groups[u.group].press.capacity_in_maintenance_hour)]
            g = level_size(caps)
            K, r = levels_needed(block.demand, g)
            if not 0 < K <= MAX_LEVELS:
                continue
            keys = [(u, d) for d in block.days for u in range(len(self.units))]
            pieces = [piece([(c.lam, _checked(c.plans[key])) for c in relaxed], self.units[key[0]].count, g, K, r)
                      for key in keys]
            if any(p is None for p in pieces):
                continue
            day_of = lambda i, vector: (self._unit_day(*keys[i], vector[0], costs)  # noqa: E731
                                        if len(set(vector)) == 1 else None)
            bound, runs = split_bound(pieces, g, K, r, day_of, deadline)
            out.append({"block": b, "lagrange_bound": block.bound, "split_bound": bound, "level": g, "levels": K,
                        "level_dps": runs})
            block.bound = min(block.bound, bound)
        return out

    def _unit_day(self, u: int, d: int, n: int, costs: Costs) -> UnitDay:
        unit, group = self.units[u], self.groups[self.units[u].group]
        press, hours = group.press, self.plant.days[d]
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        share = group.share * unit.count  # the unit's presses share one copy of the room's climate
        cells = cells_of(self._encodings(unit.group)[n], int(self.options.get("demand_split_cells", 1024)))
        return UnitDay(cells, unit.count, press.max_per_hour, press.capacity_in_maintenance_hour, costs.maintenance,
                       n - int(self.plant.maintenance_done[unit.rows[0], d]),
                       costs.revenue - usd * press.machine_kwh_per_unit, costs.revenue + costs.penalty,
                       usd * share * costs.temperature_kwh, usd * share * costs.humidity_kwh,
                       self.plant.outside_temperature[hours],
                       self.plant.humidity_initial[unit.room] if d == 0 else None)

    # --- p and best responses at given setpoints -----------------------------------------------

    def _encodings(self, g: int) -> dict:
        """(N -> encoding) of group g, for p at any setpoints (built once, in this process)."""
        if g not in self.enc_cache:
            unit = next(u for u in self.units if u.group == g)
            shared = self.runner.ctx.shared.get((self.groups[g].key, *self._day(0, unit).shared_key(self.groups[g].press)))
            if shared is None:
                inst = day_instance(self.groups[g], self._day(0, unit), None, None)
                shared = shared_parts(inst, self.networks, self.options)
            self.enc_cache[g] = {n: enc for (_, n), enc in shared[1].items()}
        return self.enc_cache[g]

    def p_at(self, g: int, n: int, T: np.ndarray, H: np.ndarray) -> np.ndarray:
        """The MILP's p (the PWL sigmoid of the exact logit) for group g at count n and setpoints."""
        enc = self._encodings(g)[n]
        free = {"temperature_C": np.asarray(T, float), "humidity_pct": np.asarray(H, float)}
        return enc.sigmoid(enc.folded.logit(np.column_stack([free[name] for name in enc.folded.inputs])))

    def best_response(self, g: int, d: int, T: np.ndarray, H: np.ndarray, costs: Costs) -> dict:
        """Press group g's best day at fixed room setpoints (exact for them, with the Lagrange
        bonus): for each maintenance count N its best maintenance hours and units (a linear value
        per unit: each hour full or idle), the best N."""
        press, hours = self.groups[g].press, self.plant.days[d]
        done = int(self.plant.maintenance_done[self.groups[g].rows[0], d])
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        best = None
        for n in range(max(press.required_maintenance, done), min(press.max_maintenance, done + len(hours)) + 1):
            p = self.p_at(g, n, T, H)
            unit = costs.revenue + costs.unit_bonus - usd * press.machine_kwh_per_unit - (costs.revenue + costs.penalty) * p
            full = np.maximum(unit * press.max_per_hour, 0.0)
            maint = np.maximum(unit * press.capacity_in_maintenance_hour, 0.0) - costs.maintenance
            take = np.argsort(-(maint - full), kind="stable")[: n - done]
            b = np.zeros(len(hours), dtype=int)
            b[take] = 1
            value = float(full.sum() + (maint - full)[take].sum())
            cap = np.where(b == 1, press.capacity_in_maintenance_hour, press.max_per_hour)
            if best is None or value > best["value"] + 1e-9:
                best = {"value": value, "x": np.where(unit > 0, cap, 0).astype(int), "b": b, "p": p, "N": n}
        return best

    def _room_energy(self, d: int, T: np.ndarray, H: np.ndarray, start: float, costs: Costs) -> float:
        hours = self.plant.days[d]
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        prev = np.concatenate([[start], H[:-1]])
        return float(np.sum(usd * (costs.temperature_kwh * np.abs(self.plant.outside_temperature[hours] - T)
                                   + costs.humidity_kwh * np.abs(H - prev))))

    # --- the schedule --------------------------------------------------------------------------

    def empty_values(self) -> dict:
        plant = self.plant
        R, K = len(plant.plant.rooms), len(plant.machines)
        return {"T": np.zeros((R, plant.hours)), "H": np.zeros((R, plant.hours)),
                "x": np.zeros((K, plant.hours), dtype=int), "b": np.zeros((K, plant.hours), dtype=int),
                "p": np.full((K, plant.hours), np.nan), "N": np.zeros((K, len(plant.days)), dtype=int)}

    def compose(self, chosen: dict[int, Candidate], costs: Costs, values: dict | None = None) -> dict:
        """The schedule of the blocks in `chosen` (block -> candidate): each room's setpoints, each
        press's units and maintenance, p, the block's demand repaired. Other days keep `values`."""
        values = values if values is not None else self.empty_values()
        days_of = self.block_days()
        for b, cand in chosen.items():
            priced = replace(costs, unit_bonus=cand.lam)
            for d in days_of[b]:
                hours = self.plant.days[d]
                for r in range(len(self.plant.plant.rooms)):
                    units = self.units_in(r)
                    climate = self._climate(r, d, units, {u: cand.plans[u, d] for u in units}, values, priced)
                    values["T"][r, hours], values["H"][r, hours] = climate["T"], climate["H"]
                    for u in units:
                        plan = climate["plans"][u]
                        for k in self.units[u].rows:
                            values["x"][k, hours], values["b"][k, hours] = plan["x"], plan["b"]
                            values["N"][k, d], values["p"][k, hours] = plan["N"], plan["p"]
            self._repair(values, costs, b)
        return values

    def _start_of(self, r: int, d: int, values: dict, days: list[int] | None = None) -> float:
        """The room's humidity before day d: the configured start, the day before's end, or
        (the day before not in `days`) the day's own first setpoint: no change paid."""
        if d == 0:
            return self.plant.humidity_initial[r]
        if days is not None and d - 1 not in days:
            return float(values["H"][r, self.plant.days[d][0]])
        return float(values["H"][r, self.plant.days[d - 1][-1]])

    def _climate(self, r: int, d: int, units: list[int], plans: dict, values: dict, costs: Costs) -> dict:
        """The room-day's setpoints and each unit's plan under them (see the module)."""
        if len(units) == 1 and next(iter(plans.values())).values is not None:
            (u, plan), = plans.items()
            v = plan.values
            p = np.where(v["x"][0] > 0, v["p"][0], np.nan)  # idle hours: p only where a repair needs it
            return {"T": v["T"], "H": v["H"], "plans": {u: {"x": v["x"][0], "b": v["b"][0], "N": int(v["N"][0, 0]),
                                                            "p": p}}}
        best = None
        climates = [(plan.values["T"], plan.values["H"]) for plan in plans.values() if plan.values is not None]
        shared = self.room_cache.get((r, d, round(costs.unit_bonus, 9)))
        if shared is not None and shared[1] is not None:
            climates.append(shared[1])
        if not climates:  # no plan found in time: the outside temperature, the humidity kept
            room, hours = self.plant.plant.rooms[r], self.plant.days[d]
            start = self.plant.humidity_initial[r] if d == 0 else room.humidity_box[0]
            climates.append((np.clip(self.plant.outside_temperature[hours], *room.temperature_box),
                             np.full(len(hours), float(start))))
        for T, H in climates:
            start = self.plant.humidity_initial[r] if d == 0 else float(H[0])
            answers = {u: self.best_response(self.units[u].group, d, T, H, costs) for u in units}
            value = (sum(self.units[u].count * a["value"] for u, a in answers.items())
                     - self._room_energy(d, T, H, start, costs))
            if best is None or value > best[0]:
                best = (value, {"T": T, "H": H, "plans": answers})
        return best[1]

    def _fill_p(self, values: dict, days: list[int]) -> None:
        """p where it is still unknown: the MILP's (PWL) p at the room's setpoints and the count."""
        for unit in self.units:
            for d in days:
                hours = self.plant.days[d]
                if not np.isnan(values["p"][unit.rows[0], hours]).any():
                    continue
                p = self.p_at(unit.group, int(values["N"][unit.rows[0], d]), values["T"][unit.room, hours],
                              values["H"][unit.room, hours])
                for k in unit.rows:
                    values["p"][k, hours] = np.where(np.isnan(values["p"][k, hours]), p, values["p"][k, hours])

    def _repair(self, values: dict, costs: Costs, b: int) -> None:
        """Meet block b's demand where the presses miss it (add the units that cost least), and
        take back surplus units that lose money (exact for the fixed setpoints and maintenance)."""
        plant = self.plant
        hours, demand = plant.demand_blocks[b], plant.demand[b]
        made = int(values["x"][:, hours].sum())
        if made < demand:
            self._fill_p(values, self.block_days()[b])
        usd = plant.price[hours] * plant.usd_per_kwh_per_usd_per_mwh
        energy = np.array([press.machine_kwh_per_unit for _, press in plant.machines])[:, None]
        p = np.nan_to_num(values["p"][:, hours], nan=1.0)
        unit_value = costs.revenue - usd[None, :] * energy - (costs.revenue + costs.penalty) * p
        top = np.array([q.max_per_hour for _, q in plant.machines])[:, None]
        low = np.array([q.capacity_in_maintenance_hour for _, q in plant.machines])[:, None]
        room = np.where(values["b"][:, hours] == 1, low, top) - values["x"][:, hours]
        if made < demand:
            for flat in np.argsort(-unit_value, axis=None, kind="stable"):
                if made >= demand:
                    break
                k, j = np.unravel_index(flat, room.shape)
                add = min(int(room[k, j]), demand - made)
                values["x"][k, hours[j]] += add
                made += add
        elif made > demand:
            for flat in np.argsort(unit_value, axis=None, kind="stable"):
                k, j = np.unravel_index(flat, room.shape)
                if made <= demand or unit_value[k, j] >= 0:
                    break
                take = min(int(values["x"][k, hours[j]]), made - demand)
                values["x"][k, hours[j]] -= take
                made -= take

    def value(self, values: dict, costs: Costs, days: list[int] | None = None) -> float:
        """The schedule's objective over `days` (default: all; USD), from its decisions and the
        MILP's p; a day whose day before is not in `days` pays no change at its start."""
        plant = self.plant
        days = list(range(len(plant.days))) if days is None else days
        cols = np.concatenate([plant.days[d] for d in days])
        usd = plant.price[cols] * plant.usd_per_kwh_per_usd_per_mwh
        total = 0.0
        for k, (_, press) in enumerate(plant.machines):
            x, p = values["x"][k, cols].astype(float), np.nan_to_num(values["p"][k, cols], nan=0.0)
            total += float(np.sum(x * (costs.revenue - usd * press.machine_kwh_per_unit)
                                  - (costs.revenue + costs.penalty) * x * p))
            total -= costs.maintenance * float(values["b"][k, cols].sum())
        for r in range(len(plant.plant.rooms)):
            for d in days:
                hours = plant.days[d]
                total -= self._room_energy(d, values["T"][r, hours], values["H"][r, hours],
                                           self._start_of(r, d, values, days), costs)
        return total

    # --- the whole search ----------------------------------------------------------------------

    def solve(self, costs: Costs, solver: ScheduleSolver) -> SolveResult:
        begin = time.perf_counter()
        total = self._total = float(solver.solver_cfg.time_limit_s)
        gap_target = float(solver.solver_cfg.mip_rel_gap)
        before = (self.runner.solved, self.runner.requested, self.runner.solve_seconds)
        clock = [time.perf_counter()]
        lap = lambda: clock.append(time.perf_counter()) or round(clock[-1] - clock[-2], 3)  # noqa: E731
        blocks = self.relaxation(costs, begin, total, gap_target)
        phases = {"relaxation_s": lap()}
        split = self.split_demand(blocks, replace(costs, unit_bonus=0.0), begin + 0.85 * total)
        phases["demand_split_s"] = lap()
        rooms_tightened = self.tighten_rooms(blocks, replace(costs, unit_bonus=0.0), begin, total)
        phases["room_bounds_s"] = lap()
        chosen = {}
        for b, block in enumerate(blocks):  # each block's best candidate, valued on its own days
            scored = []
            for cand in block.candidates:
                values = self.compose({b: cand}, costs)
                self._fill_p(values, block.days)
                scored.append((self.value(values, costs, block.days), cand))
            chosen[b] = max(scored, key=lambda sc: sc[0])[1]
        self._room_climates(chosen, costs, begin, total)
        values = self.compose(chosen, costs)
        phases["schedule_s"] = lap()
        values, chosen = self._chain(values, chosen, costs, begin, total)
        self._fill_p(values, list(range(len(self.plant.days))))
        phases["chain_s"] = lap()
        proven = max(sum(b.bound for b in blocks), self.value(values, costs)) - self.value(values, costs)
        polished = 0  # the room-day MILPs only where the schedule is not yet proven to the gap target
        if proven > gap_target * max(abs(self.value(values, costs)), 1e-9):
            polished = self._polish_rooms(values, costs, solver, begin, POLISH_SHARE * total)
        phases["room_polish_s"] = lap()
        self._extras(values, costs)
        objective = values["objective"]
        bound = max(sum(b.bound for b in blocks), objective)
        gap = (bound - objective) / max(abs(objective), 1e-9)
        answers = [a for block in blocks for c in block.candidates for a in c.plans.values()]
        time_hit = any(a.time_limit_hit for a in answers)
        status = "optimal" if gap <= gap_target + 1e-12 else ("time_limit" if time_hit else "feasible")
        subs = [SubResult(f"block {b} (days {blk.days[0]}-{blk.days[-1]})", "lagrange" if self.coupled else "day",
                          None, blk.bound, 0.0, None, {}) for b, blk in enumerate(blocks)]
        self.report = {"rooms": len(self.plant.plant.rooms), "presses": len(self.plant.machines),
                       "days": len(self.plant.days), "groups": len(self.groups), "units": len(self.units),
                       "sub_problems_requested": self.runner.requested - before[1],
                       "sub_problems_solved": self.runner.solved - before[0],
                       "sub_problems_reused": (self.runner.requested - before[1]) - (self.runner.solved - before[0]),
                       "sub_problem_seconds": self.runner.solve_seconds - before[2],
                       "parallel": self.runner.mode, "workers": self.runner.workers,
                       "room_days_polished": polished, "room_days_shared_humidity_bound": rooms_tightened,
                       "demand_split": split,
                       "phases": phases,
                       "lagrange": [{"days": blk.days, "steps": blk.steps, "bound": blk.bound, "lambda": chosen[b].lam}
                                    for b, blk in enumerate(blocks)]}
        log.info("decomposed: %d room(s), %d press(es), %d day(s): objective %.2f, bound %.2f, gap %.2e; %d "
                 "sub-problems solved, %d reused", self.report["rooms"], self.report["presses"], self.report["days"],
                 objective, bound, gap, self.report["sub_problems_solved"], self.report["sub_problems_reused"])
        return SolveResult(solver.name, status, objective, bound, gap, time.perf_counter() - begin,
                           sum(a.nodes for a in answers if a.solved), time_hit, -1, values, subs, True, "decomposition",
                           max(a.sigmoid_error_bound for a in answers))

    def _chain(self, values: dict, chosen: dict[int, Candidate], costs: Costs, begin: float,
               total: float) -> tuple[dict, dict]:
        """Re-solve each one-group room's day whose plan starts at another humidity than the day
        before ended (its start fixed, the same price; a lone press: its own demand) while time
        allows; a re-solved day is kept where the whole schedule earns more."""
        if len(self.plant.days) == 1:
            return values, chosen
        block_of = {d: b for b, days in enumerate(self.block_days()) for d in days}
        all_days = list(range(len(self.plant.days)))
        for d in range(1, len(self.plant.days)):
            b = block_of[d]
            for r in range(len(self.plant.plant.rooms)):
                units = self.units_in(r)
                end = float(values["H"][r, self.plant.days[d - 1][-1]])
                plan = chosen[b].plans[units[0], d] if len(units) == 1 else None
                if plan is None or plan.values is None or abs(float(plan.values["H"][0]) - end) <= 1e-7:
                    continue
                limit = self._limit(begin, total, 1, len(self.plant.days) - d)
                if limit < MIN_DAY_SECONDS:
                    continue
                demand = None if self.coupled else self.plant.demand[d]
                task = self._task(units[0], d, replace(costs, unit_bonus=chosen[b].lam), limit, start=end, demand=demand)
                try:
                    again = self.runner.run([task])[0]
                except NoScheduleFoundError:
                    continue
                trial = {**chosen, b: Candidate({**chosen[b].plans, (units[0], d): again}, chosen[b].lam)}
                tried = self.compose({b: trial[b]}, costs, {k: v.copy() for k, v in values.items()})
                self._fill_p(tried, all_days)
                self._fill_p(values, all_days)
                if self.value(tried, costs) > self.value(values, costs):
                    values, chosen = tried, trial
        return values, chosen

    # --- a room of different presses: its shared humidity (room_dp.py) ----------------------

    def _press_day(self, u: int, d: int, n: int, costs: Costs):
        unit, group = self.units[u], self.groups[self.units[u].group]
        press, hours = group.press, self.plant.days[d]
        key = (unit.group, n)
        if key not in self.cell_cache:
            self.cell_cache[key] = cells_of(self._encodings(unit.group)[n], ROOM_CELLS)
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        done = int(self.plant.maintenance_done[unit.rows[0], d])
        return press_day(self.cell_cache[key], unit.count, press.max_per_hour, press.capacity_in_maintenance_hour,
                         costs.maintenance, n - done, costs.revenue - usd * press.machine_kwh_per_unit,
                         costs.revenue + costs.penalty, usd * group.share * costs.temperature_kwh,
                         self.plant.outside_temperature[hours])

    def room_day(self, r: int, d: int, cand: Candidate, costs: Costs, deadline: float,
                 demand: int | None = None) -> tuple[float, tuple | None]:
        """Room r's day d at cand's price: a bound with the humidity shared (room_dp.py) and the
        climate of its best count vector (None: none looked at). demand: the block's, where this
        room-day makes all of it (each count vector may then take its own demand price)."""
        key = (r, d, round(cand.lam, 9))
        if key in self.room_cache:
            return self.room_cache[key]
        units = self.units_in(r)
        room = self.plant.plant.rooms[r]
        separate = sum(self.units[u].count * cand.plans[u, d].bound for u in units)
        hours = self.plant.days[d]
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        start = self.plant.humidity_initial[r] if d == 0 else None
        lo, width = room.humidity_box[0], (room.humidity_box[1] - room.humidity_box[0]) / ROOM_CELLS
        best_bound, best, rest, prices = -math.inf, None, -math.inf, None
        target = self._room_value(r, d, cand, costs)
        vectors = count_vectors([cand.plans[u, d].n_bounds for u in units], [self.units[u].count for u in units])
        if str(self.options.get("room_temperature", "shared")) == "shared":
            best_bound, climate, rest = self._room_day_shared(r, d, cand, costs, deadline, vectors, target, demand)
            answer = (min(max(best_bound, rest), separate), climate)
            self.room_cache[key] = answer
            return answer
        for i, (bound_v, vector) in enumerate(vectors):
            if bound_v <= best_bound:
                break  # no later count vector can raise the room's bound
            if i >= MAX_VECTORS or time.perf_counter() > deadline:
                rest = bound_v
                break
            presses = [self._press_day(u, d, n, costs) for u, n in zip(units, vector)]
            bound, mu = tightened(presses, usd * costs.humidity_kwh, start, lo, width, cand.lam, target=target,
                                  prices=prices, enough=best_bound)  # mu: (maintenance prices, temperature prices)
            prices = mu if prices is None else prices
            bound = min(bound, bound_v)
            if bound > best_bound:
                best_bound, best = bound, (units, vector, presses, mu)
        climate = None
        if best is not None:
            climate = self._shared_climate(r, d, best, cand.lam, costs, start, lo, width)
        answer = (min(max(best_bound, rest), separate), climate)
        self.room_cache[key] = answer
        return answer

    def _room_day_shared(self, r: int, d: int, cand: Candidate, costs: Costs, deadline: float, vectors,
                         target: float, demand: int | None = None) -> tuple[float, tuple | None, float]:
        """Room r's day d with its temperature shared exactly (room_exact.py): (the largest bound
        over the count vectors looked at, the best climate found, the separate bound of the first
        vector not looked at: -inf when none is left). Vectors best first by their separate bound;
        each also gives a climate (its DP's path on the cells' borders, its T), valued with every
        press re-planned for it: a better one raises the target its bound's steps aim at."""
        units = self.units_in(r)
        room, hours = self.plant.plant.rooms[r], self.plant.days[d]
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        start = self.plant.humidity_initial[r] if d == 0 else None
        lo, width = room.humidity_box[0], (room.humidity_box[1] - room.humidity_box[0]) / ROOM_CELLS
        tau, energy_H = self.plant.outside_temperature[hours], usd * costs.humidity_kwh
        climate, mu, looked, rest = None, None, [], -math.inf
        vectors, priced = iter(vectors), set()   # priced: vectors at their least with their own demand price
        pending: list = []   # the vector the look stopped at (looked at first when it goes on)
        while True:
            for bound_v, vector in itertools.chain(pending, vectors):
                pending, rest = [(bound_v, vector)], bound_v  # the separate bound of the first vector not looked at
                if bound_v <= max((b for b, _ in looked), default=-math.inf):
                    break  # no later count vector can raise the room's bound
                if len(looked) >= EXACT_MAX_VECTORS or time.perf_counter() > deadline:
                    break
                pending, rest = [], -math.inf
                presses = [self._press_day(u, d, n, costs) for u, n in zip(units, vector)]
                need = np.array([[p.maintenances, p.maintenances] for p in presses])
                cells = [[self.cell_cache[self.units[u].group, n]] for u, n in zip(units, vector)]
                problem = (presses, shared_hours(cells, tau), energy_H, start, lo, width, cand.lam, need)
                bound, found, _ = exact_tightened(*problem, target=target, mu=mu,
                                                  enough=max((b for b, _ in looked), default=-math.inf),
                                                  steps=EXACT_MU_STEPS if mu is None else EXACT_MU_STEPS_WARM)
                mu, aimed = (found if mu is None else mu), target
                if bound > target:  # this vector may hold a better schedule: its DP's climate
                    _, path, _, T, _ = exact_room_dp(presses, shared_hours(cells, tau, borders=True), energy_H, start,
                                                     lo, width, cand.lam, found, need, exact=True)
                    H = np.clip(lo + width * path, *room.humidity_box)
                    value = self._climate_value(r, d, T, H, cand.lam, costs, start)
                    if value > target:
                        target, climate = value, (T, H)
                looked.append((min(bound, bound_v), (problem, found, aimed)))
            if demand is None or not self._vector_price(looked, priced, rest, demand, deadline):
                break
        if demand is None:  # the vectors whose bound is still above the best schedule, stepped again towards it
            for k in sorted(range(len(looked)), key=lambda k: -looked[k][0]):
                bound, (problem, found, aimed) = looked[k]
                if bound <= target or aimed >= target or time.perf_counter() > deadline:
                    continue
                again, _, _ = exact_tightened(*problem, target=target, mu=found, steps=EXACT_MU_STEPS_WARM)
                looked[k] = (min(bound, again), (problem, found, target))
        return max((b for b, _ in looked), default=-math.inf), climate, rest

    def _vector_price(self, looked: list, priced: set, rest: float, demand: int, deadline: float) -> bool:
        """The vector of the largest bound, stepped with its own demand price beside the maintenance
        prices (room_exact.exact_tightened(demand=)) down to the next largest bound (nothing lower
        matters yet). Valid only where the room-day is its block's whole demand (the caller checks):
        the price then couples nothing else. Returns whether it stepped one (False: the largest is
        at its least already, or no time left)."""
        if not looked or time.perf_counter() > deadline:
            return False
        order = sorted(range(len(looked)), key=lambda k: -looked[k][0])
        k = order[0]
        if k in priced:
            return False
        bound, (problem, found, aimed) = looked[k]
        enough = max([looked[j][0] for j in order[1:2]] + [rest])
        again, x, _ = exact_tightened(*problem, mu=found, enough=enough, steps=EXACT_DEMAND_STEPS, demand=demand)
        if again > enough:
            priced.add(k)  # it stopped above the next one: at its least (or out of steps)
        looked[k] = (min(bound, again), (problem, x, aimed))
        return True

    def _climate_value(self, r: int, d: int, T: np.ndarray, H: np.ndarray, lam: float, costs: Costs,
                       start: float | None) -> float:
        """Room r's day d under the climate (T, H), every press re-planned for it, after the room's energy."""
        priced = replace(costs, unit_bonus=lam)
        value = sum(self.units[u].count * self.best_response(self.units[u].group, d, T, H, priced)["value"]
                    for u in self.units_in(r))
        return value - self._room_energy(d, T, H, H[0] if start is None else start, costs)

    def _room_value(self, r: int, d: int, cand: Candidate, costs: Costs) -> float:
        """The best room-day value (at cand's price) of its plans' climates, every press re-planned
        for each: a schedule's value, the target of the room's bound."""
        start = self.plant.humidity_initial[r] if d == 0 else None
        best = -math.inf
        for u in self.units_in(r):
            values = cand.plans[u, d].values
            if values is None:
                continue
            T, H = values["T"], values["H"]
            answers = [self.best_response(self.units[v].group, d, T, H, replace(costs, unit_bonus=cand.lam))
                       for v in self.units_in(r)]
            value = sum(self.units[v].count * a["value"] for v, a in zip(self.units_in(r), answers))
            best = max(best, value - self._room_energy(d, T, H, H[0] if start is None else start, costs))
        return best

    def _shared_climate(self, r: int, d: int, best: tuple, lam: float, costs: Costs, start, lo: float,
                        width: float) -> tuple:
        """The room DP's humidity path (cell borders, exact moves) and, each hour, the temperature
        that earns most for all the room's presses together at that humidity."""
        units, vector, presses, (mu, price_T) = best
        hours = self.plant.days[d]
        usd = self.plant.price[hours] * self.plant.usd_per_kwh_per_usd_per_mwh
        _, path, _ = room_dp(presses, usd * costs.humidity_kwh, start, lo, width, lam, mu, exact=True, price_T=price_T)
        room = self.plant.plant.rooms[r]
        H = np.clip(lo + width * path, *room.humidity_box)
        T = np.zeros(len(hours))
        t_lo, t_hi = room.temperature_box
        for t, hour in enumerate(hours):
            tau = self.plant.outside_temperature[hour]
            cands = [np.array([t_lo, t_hi, float(np.clip(tau, t_lo, t_hi))])]
            cands += [crossings(self.cell_cache[self.units[u].group, n], H[t]) for u, n in zip(units, vector)]
            cand = np.unique(np.clip(np.concatenate(cands), t_lo, t_hi))
            total = -usd[t] * costs.temperature_kwh * np.abs(tau - cand)
            for u, n in zip(units, vector):
                press = self.groups[self.units[u].group].press
                p = self.p_at(self.units[u].group, n, cand, np.full(len(cand), H[t]))
                unit = costs.revenue + lam - usd[t] * press.machine_kwh_per_unit - (costs.revenue + costs.penalty) * p
                total = total + self.units[u].count * np.maximum(unit * press.max_per_hour, 0.0)
            T[t] = cand[int(np.argmax(total))]
        return T, H

    def tighten_rooms(self, blocks: list[Block], costs: Costs, begin: float, total: float) -> int:
        """Each block's bound again at its best price, each room of several press groups with its
        humidity shared (room_day); returns how many room-days were tightened."""
        tightened_days = 0
        multi = [r for r in range(len(self.plant.plant.rooms)) if len(self.units_in(r)) > 1]
        left = len(multi) * sum(len(block.days) for block in blocks)  # room-days still to bound
        for block in blocks:
            if not multi:
                continue
            relaxed = [c for c in block.candidates if c.relaxed]
            if not relaxed:
                continue
            cand = min(relaxed, key=lambda c: self._phi(block, c.plans, c.lam)[0])
            bound = -cand.lam * block.demand
            for d in block.days:
                for r in range(len(self.plant.plant.rooms)):
                    units = self.units_in(r)
                    if r in multi:  # each room-day an equal share of the time left (the first would take it all)
                        now = time.perf_counter()
                        deadline = now + max(begin + 0.85 * total - now, 0.0) / max(left, 1)
                        left -= 1
                        alone = len(block.days) == 1 and len(units) == len(self.units)  # the block's whole demand
                        priced = alone and bool(self.options.get("room_demand_price", True))
                        room_bound, _ = self.room_day(r, d, cand, costs, deadline, block.demand if priced else None)
                        bound += room_bound
                        tightened_days += 1
                    else:
                        bound += sum(self.units[u].count * cand.plans[u, d].bound for u in units)
            block.bound = min(block.bound, bound)
        return tightened_days

    def _room_climates(self, chosen: dict[int, Candidate], costs: Costs, begin: float, total: float) -> None:
        """The room DP's shared climate for every room of several groups at the chosen prices
        (another climate for `_climate` to try)."""
        for b, cand in chosen.items():
            for d in self.block_days()[b]:
                for r in range(len(self.plant.plant.rooms)):
                    if len(self.units_in(r)) > 1:
                        self.room_day(r, d, cand, replace(costs, unit_bonus=0.0), begin + 0.85 * total)

    # --- a room of different presses: its day as one model, the plan's N fixed ----------------

    def _hour_values(self, g: int, n: int):
        if (g, n) not in self.hv_cache:
            self.hv_cache[g, n] = HourValues(self._encodings(g)[n], int(self.options.hour_value_strips))
        return self.hv_cache[g, n]

    def room_day_model(self, r: int, d: int, values: dict, costs: Costs, demand: int) -> ScheduleModel:
        """Room r's day d as one MILP: a row per press group (weighted by its presses), each at its
        count N in `values`, the room's setpoints shared, at least `demand` units."""
        units = self.units_in(r)
        hours = self.plant.days[d]
        room = self.plant.plant.rooms[r]
        rows = tuple(self.groups[self.units[u].group].press for u in units)
        inst = Instance(self.plant.timestamps[hours], self.plant.price[hours], self.plant.outside_temperature[hours],
                        rows, room.temperature_box, room.humidity_box, self._start_of(r, d, values),
                        [np.arange(len(hours))], [int(demand)], self.plant.usd_per_kwh_per_usd_per_mwh,
                        maintenance_done=np.array([[self.plant.maintenance_done[self.units[u].rows[0], d]] for u in units]),
                        room=room.name, weights=tuple(self.units[u].count for u in units))
        counts = {(k, 0): int(values["N"][self.units[u].rows[0], d]) for k, u in enumerate(units)}
        encodings, hour_values = {}, {}
        for k, u in enumerate(units):
            g, n = self.units[u].group, counts[k, 0]
            encodings[inst.kind_of(k), n] = self._encodings(g)[n]
            if self.options.hour_value_cuts:
                hour_values[inst.kind_of(k), n] = self._hour_values(g, n)
        return build_schedule_model(inst, self.networks, costs, self.options, ([counts], encodings, hour_values))

    def _polish_rooms(self, values: dict, costs: Costs, solver: ScheduleSolver, begin: float, total: float) -> int:
        """Each room of different presses, day by day: its day as one MILP (N fixed at the plan's,
        at least the units it makes now, the schedule so far as the start); kept where it earns
        more. Returns how many room-days improved."""
        todo = [(r, d) for r in range(len(self.plant.plant.rooms)) if 1 < len(self.units_in(r)) <= POLISH_GROUPS
                for d in range(len(self.plant.days))]
        improved = 0
        for i, (r, d) in enumerate(todo):
            left = total - (time.perf_counter() - begin)
            limit = left / (len(todo) - i)
            if limit < MIN_DAY_SECONDS:
                break
            units = self.units_in(r)
            hours = self.plant.days[d]
            rows = [self.units[u].rows[0] for u in units]
            made = int(sum(self.units[u].count * values["x"][self.units[u].rows[0], hours].sum() for u in units))
            model = self.room_day_model(r, d, values, replace(costs, unit_bonus=0.0), made)
            start = {"T": values["T"][r, hours], "H": values["H"][r, hours], "x": values["x"][rows][:, hours],
                     "b": values["b"][rows][:, hours], "N": values["N"][rows][:, [d]]}
            same = all((values["x"][k, hours] == values["x"][self.units[u].rows[0], hours]).all()
                       for u in units for k in self.units[u].rows)
            room_solver = ScheduleSolver(_with_limit(solver.solver_cfg, limit), solver.search)
            try:
                result = room_solver.solve(model, start if same else None)
            except NoScheduleFoundError:
                continue
            before = self.value(values, costs)
            trial = {k: v.copy() for k, v in values.items()}
            v = result.values
            trial["T"][r, hours], trial["H"][r, hours] = v["T"], v["H"]
            for j, u in enumerate(units):
                for k in self.units[u].rows:
                    trial["x"][k, hours], trial["b"][k, hours], trial["p"][k, hours] = v["x"][j], v["b"][j], v["p"][j]
            trial["p"][:, hours] = np.where(trial["x"][:, hours] > 0, trial["p"][:, hours], np.nan)
            self._fill_p(trial, [d])
            if self.value(trial, costs) > before + 1e-9:
                values.update(trial)
                improved += 1
        return improved

    def _extras(self, values: dict, costs: Costs) -> None:
        """The |.| of each room's energy terms (eT, eH) as the MILP names them, and the objective."""
        plant = self.plant
        values["eT"] = np.abs(plant.outside_temperature[None, :] - values["T"])
        prev = np.concatenate([np.zeros((len(plant.plant.rooms), 1)), values["H"][:, :-1]], axis=1)
        for d, hours in enumerate(plant.days):
            for r in range(len(plant.plant.rooms)):
                prev[r, hours[0]] = self._start_of(r, d, values)
        values["eH"] = np.abs(values["H"] - prev)
        values["objective"] = self.value(values, costs)


def _checked(plan: DaySolve) -> dict[int, float]:
    """A press-day's bound per maintenance count; where the counts' best falls short of the day's
    own bound (a count left without a bound), every count takes the day's bound (looser, valid)."""
    counts = dict(plan.n_bounds)
    if not counts or max(counts.values()) < plan.bound - 1e-9 * max(abs(plan.bound), 1.0):
        return {n: plan.bound for n in counts}
    return counts


def _with_limit(cfg: DictConfig, seconds: float) -> DictConfig:
    from omegaconf import OmegaConf

    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.time_limit_s = float(seconds)
    return out
