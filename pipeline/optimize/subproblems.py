"""Single-press day problems: the unit of work of the decomposition, run here, in joblib
processes or on a Ray cluster (`optimize.parallel`).

A `DayTask` names one press kind in one climate box paying a share of its room's energy (a
`Group`), one day, its start humidity (None: free), its demand (None: none) and its costs (a
Lagrange price per unit included). Its `key` is its content: two tasks with the same key are one
problem, answered once (a press kind that stands in two rooms with the same climate box, a day
whose prices repeat). A worker process builds each day model once (Pyomo model, neuron bounds,
hour-value cuts) and keeps it for the next task that needs it (`_MODELS`), as the sweep's worker
keeps its plan: the task function and its arguments are plain picklable data.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pipeline.optimize.costs import Costs
from pipeline.optimize.formulation import ScheduleModel, build_schedule_model, set_costs, set_demand, set_start, shared_parts
from pipeline.optimize.instance import Instance
from pipeline.optimize.network import FaultNetwork
from pipeline.optimize.plant import Press
from pipeline.optimize.solve import NoScheduleFoundError, ScheduleSolver, SolveResult

log = logging.getLogger(__name__)

RAY_CONNECT_TRIES = 5                 # connecting to a Ray cluster: tries, 2, 4, 6, 8 s apart


@dataclass(frozen=True)
class Group:
    """One sub-problem type: a press kind in a climate box, paying `share` of its room's energy,
    standing for the plant's machines `rows` (possibly in several rooms)."""

    press: Press
    temperature_box: tuple[float, float]
    humidity_box: tuple[float, float]
    share: float
    rows: tuple[int, ...]

    @property
    def key(self) -> tuple:
        return (self.press.kind, self.temperature_box, self.humidity_box, round(self.share, 12))


@dataclass(frozen=True)
class DayData:
    """What a day problem needs of the horizon: its hours' stamps, prices and outside temperatures."""

    timestamps: tuple
    price: tuple[float, ...]
    outside_temperature: tuple[float, ...]
    usd_per_kwh_per_usd_per_mwh: float
    maintenance_done: int = 0   # made before the day's first hour (a re-plan's first day)

    @property
    def key(self) -> tuple:
        return (self.price, self.outside_temperature, self.usd_per_kwh_per_usd_per_mwh, self.maintenance_done)

    def shared_key(self, press) -> tuple:
        """What a press kind's shared parts (its counts' encodings) depend on besides the kind: the
        maintenances done and the highest count, min(max, done + hours) (a re-plan's short day must
        not reuse a longer day's counts)."""
        return (self.maintenance_done, min(press.max_maintenance, self.maintenance_done + len(self.price)))


@dataclass(frozen=True)
class DayTask:
    group: Group
    day: DayData
    start: float | None         # H before the first hour; None: free
    demand: int | None          # units the press must make in the day; None: none
    costs: Costs
    time_limit: float
    limit_note: str = "solver.time_limit_s"  # how time_limit was applied, for the solver's messages (not in the key)

    @property
    def key(self) -> tuple:
        start = None if self.start is None else round(float(self.start), 9)
        return (self.group.key, self.day.key, start, self.demand, astuple(self.costs))


@dataclass
class DaySolve:
    """One day problem's answer for one press: its plan, objective, proven bound and each
    maintenance count's bound (for pruning a room's combinations)."""

    values: dict | None         # None: no schedule found in its time (its bound still holds)
    objective: float
    bound: float
    status: str
    seconds: float
    nodes: int
    time_limit_hit: bool
    sigmoid_error_bound: float
    n_bounds: dict[int, float] = field(default_factory=dict)
    solved: bool = True          # False: answered from a cache (an identical problem solved before)

    @property
    def made(self) -> int:
        return 0 if self.values is None else int(self.values["x"].sum())


@dataclass(frozen=True)
class Context:
    """Everything a worker needs to build a group's day models: the networks (by file), the
    formulation switches, the solver and search settings."""

    networks: dict
    formulation: dict
    solver: dict
    search: dict
    shared: dict = field(default_factory=dict)  # (group key, maintenances done) -> shared_parts, built once


# --- the work itself (runs in any process) ---------------------------------------------------

_MODELS: dict[tuple, ScheduleModel] = {}
_SHARED: dict[tuple, tuple] = {}
_SOLVERS: dict[tuple, ScheduleSolver] = {}
MAX_CACHED_MODELS = 64  # a worker keeps at most this many day models (a week of 5 kinds x 7 days fits)


def day_instance(group: Group, day: DayData, start: float | None, demand: int | None) -> Instance:
    hours = len(day.price)
    return Instance(np.array(day.timestamps), np.array(day.price, float), np.array(day.outside_temperature, float),
                    (group.press,), group.temperature_box, group.humidity_box, start, [np.arange(hours)],
                    [int(demand or 0)], day.usd_per_kwh_per_usd_per_mwh, room_share=group.share,
                    maintenance_done=np.array([[day.maintenance_done]], dtype=int))


def _model(ctx: Context, task: DayTask) -> ScheduleModel:
    key = (task.group.key, task.day.key)
    if key not in _MODELS:
        if len(_MODELS) >= MAX_CACHED_MODELS:
            _MODELS.pop(next(iter(_MODELS)))
        opts = OmegaConf.create(ctx.formulation)
        inst = day_instance(task.group, task.day, task.start, task.demand)
        shared_key = (task.group.key, *task.day.shared_key(task.group.press))
        if shared_key not in ctx.shared and shared_key not in _SHARED:
            _SHARED[shared_key] = shared_parts(inst, ctx.networks, opts)
        shared = ctx.shared.get(shared_key) or _SHARED[shared_key]
        _MODELS[key] = build_schedule_model(inst, ctx.networks, task.costs, opts, shared)
    return _MODELS[key]


def _solver(ctx: Context, limit: float, note: str = "solver.time_limit_s") -> ScheduleSolver:
    key = (repr(ctx.solver), repr(ctx.search))
    if key not in _SOLVERS:
        _SOLVERS[key] = ScheduleSolver(OmegaConf.create(ctx.solver), OmegaConf.create(ctx.search))
    solver = _SOLVERS[key]
    cfg = OmegaConf.create(ctx.solver)
    cfg.time_limit_s = float(max(limit, 0.1))
    solver.solver_cfg = cfg
    solver.limit_applied = note
    return solver


def solve_day(ctx: Context, task: DayTask) -> DaySolve:
    """Solve one day problem (N enumerated, best bound first; solve.py) in this process."""
    start = time.perf_counter()
    model = _model(ctx, task)
    if model.costs != task.costs:
        set_costs(model, task.costs)
    set_start(model, task.start)
    set_demand(model, task.demand)
    try:
        result = _solver(ctx, task.time_limit, task.limit_note).solve(model)
    except NoScheduleFoundError as exc:  # its bound still holds; the decomposition plans it otherwise
        log.warning("%s", exc)
        return DaySolve(None, -math.inf, float(exc.bound), "no_schedule", time.perf_counter() - start, 0, True,
                        max(e.sigmoid.error_bound for s in model.submodels for e in s.encodings.values()))
    n_bounds = {}
    for sub, row in zip(model.submodels, result.subs):
        bound = row.bound if row.bound is not None else row.lp_bound
        n_bounds[int(sub.n_fixed[(0, 0)]) if sub.n_fixed[(0, 0)] is not None else -1] = (
            -math.inf if bound is None else float(bound))
    return DaySolve(result.values, result.objective, result.bound, result.status, time.perf_counter() - start,
                    result.nodes, result.time_limit_hit, result.sigmoid_error_bound, n_bounds)


def _solve_many(ctx: Context, tasks: Sequence[DayTask]) -> list[DaySolve]:
    return [solve_day(ctx, t) for t in tasks]


def shared_of(ctx: Context, group: Group, day: DayData) -> tuple:
    """A group's encodings (folded network, neuron bounds, sigmoid pieces per N): the part of its
    day models every day shares, computed once for all workers (Runner.prepare)."""
    return shared_parts(day_instance(group, day, None, None), ctx.networks, OmegaConf.create(ctx.formulation))


def _shared_many(ctx: Context, items: Sequence[tuple]) -> list[tuple]:
    return [shared_of(ctx, group, day) for group, day in items]


# --- where the work runs ---------------------------------------------------------------------


class Runner:
    """Solves batches of day tasks; identical tasks (same key) are solved once, ever."""

    def __init__(self, ctx: Context, mode: str = "none", workers: int = 1, ray_address: str | None = None):
        """mode: one of pipeline/core/settings/optimize.PARALLEL (optimize.parallel, checked as the config loads)."""
        self.ctx, self.mode, self.workers, self.ray_address = ctx, mode, max(int(workers), 1), ray_address
        self.cache: dict[tuple, DaySolve] = {}
        self.requested = 0
        self.solved = 0
        self.solve_seconds = 0.0
        self._ray = None

    def run(self, tasks: Sequence[DayTask]) -> list[DaySolve]:
        """Answers in task order; new distinct tasks run in parallel (mode), the rest from the cache."""
        self.requested += len(tasks)
        todo = list({t.key: t for t in tasks if t.key not in self.cache}.values())
        if todo:
            for task, answer in zip(todo, self._dispatch(todo)):
                self.cache[task.key] = answer
                self.solved += 1
                self.solve_seconds += answer.seconds
        fresh = {t.key for t in todo}
        out, seen = [], set()
        for t in tasks:
            answer = self.cache[t.key]
            first = t.key in fresh and t.key not in seen
            seen.add(t.key)
            out.append(answer if first else replace(answer, solved=False))
        return out

    @property
    def reused(self) -> int:
        return self.requested - self.solved

    def prepare(self, items: Sequence[tuple]) -> None:
        """Each (group, day) kind's shared parts, in parallel, kept in the context every worker
        receives: a worker never tightens a network's bounds again."""
        todo = [(g, d) for g, d in items if (g.key, *d.shared_key(g.press)) not in self.ctx.shared]
        if not todo:
            return
        for (group, day), shared in zip(todo, self._dispatch(todo, _shared_many)):
            self.ctx.shared[(group.key, *day.shared_key(group.press))] = shared

    def _dispatch(self, tasks: list, work_fn=_solve_many) -> list:
        if self.mode == "none" or self.workers == 1 or len(tasks) == 1:
            return work_fn(self.ctx, tasks)
        chunks = _chunks(tasks, self.workers)
        work = [[tasks[i] for i in chunk] for chunk in chunks]
        if self.mode == "joblib":
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=len(work), backend="loky")(delayed(work_fn)(self.ctx, c) for c in work)
        else:
            parts = self._ray_map(work, work_fn)
        out: list = [None] * len(tasks)
        for chunk, part in zip(chunks, parts):
            for i, answer in zip(chunk, part):
                out[i] = answer
        return out

    def _ray_map(self, chunks: list[list], work_fn) -> list[list]:
        try:
            import ray
        except ImportError:
            raise ValueError("optimize.parallel=ray needs Ray: `make cluster` installs the cluster extra") from None
        if self._ray is None:
            connect_ray(self.ray_address)
            self._ray = {fn: ray.remote(num_cpus=1)(fn) for fn in (_solve_many, _shared_many)}
        ctx = ray.put(self.ctx)
        return ray.get([self._ray[work_fn].remote(ctx, c) for c in chunks])


def connect_ray(address: str | None = None) -> None:
    """Join the Ray cluster at `address` ($RAY_ADDRESS; neither: start one here), retrying while
    a head that was just started listens but does not yet serve."""
    import ray

    for attempt in range(RAY_CONNECT_TRIES):
        if ray.is_initialized():
            return
        try:
            ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except ConnectionError:
            if attempt == RAY_CONNECT_TRIES - 1:
                raise
            time.sleep(2.0 * (attempt + 1))


def _chunks(tasks: list, workers: int) -> list[list[int]]:
    """Task indices dealt round-robin to at most `workers` chunks (one chunk per worker call)."""
    order = sorted(range(len(tasks)), key=lambda i: _order(tasks[i]))
    chunks: list[list[int]] = [[] for _ in range(min(workers, len(tasks)))]
    for n, i in enumerate(order):
        chunks[n % len(chunks)].append(i)
    return [c for c in chunks if c]


def _order(task) -> tuple:
    group, day = (task.group, task.day) if isinstance(task, DayTask) else task
    return (str(group.key), day.key)


def context(networks: dict[Path, FaultNetwork], formulation: DictConfig, solver: DictConfig,
            search: DictConfig) -> Context:
    """A worker's settings; its day problems value a DP schedule by the DP's own arithmetic (the
    decomposition re-values every schedule it assembles, and builds no Pyomo model it need not)."""
    plain = lambda c: OmegaConf.to_container(c, resolve=True) if isinstance(c, DictConfig) else dict(c)  # noqa: E731
    return Context(dict(networks), plain(formulation), plain(solver), {**plain(search), "dp_value": "dp"})
