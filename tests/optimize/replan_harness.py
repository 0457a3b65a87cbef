"""A short day for the live planner's tests: an 8-hour instance with cheap and dear hours, the stand-in
fault network, its day-ahead plan solved once; and the scripted presses run in one process, either
on the day-ahead plan all day (static) or closed through the planner (each tick's signals in, each
hour's published plan out), no OPC UA in between."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.data.fault.generator import true_probability
from pipeline.data.press.simulator import HourPlan, ScriptedPresses, hour_plan_from_table, run_day
from pipeline.data.press_opcua import scripted_presses
from pipeline.optimize.costs import Costs
from pipeline.optimize.live.planner import build_planner
from pipeline.optimize.live.planner import Replanner
from pipeline.optimize.live.realised import realised_profit
from pipeline.optimize.run import run_optimization
from tests.conftest import make_cfg
from tests.optimize.conftest import write_prices

# hours 0-1 and 4-5 cheap, 2-3 and 6-7 dear: the day-ahead plan makes what the demand needs beyond
# the cheap hours in the dear ones, so a stop has somewhere to move production and a spike something to move
PRICES = [30.0, 32.0, 75.0, 80.0, 31.0, 33.0, 78.0, 76.0]
TICK_S = 300


def short_day(folder: Path, fault_onnx: Path, hours: int = 8, overrides: list[str] | None = None):
    """(cfg, schedule.csv): the first `hours` of the 8-hour day and its day-ahead plan (the optimize
    stage's functions)."""
    folder.mkdir(parents=True, exist_ok=True)
    # a generous search time: these tests check what a re-plan decides, not how fast (benchmarks/replan.py)
    cfg = make_cfg(folder, [f"optimize.horizon_hours={hours}", "replan.solve.time_limit_s=60", *(overrides or [])])
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    models = Path(cfg.paths.models)
    models.mkdir(parents=True, exist_ok=True)
    (models / cfg.optimize.network_file).write_bytes(fault_onnx.read_bytes())
    write_prices(Path(cfg.paths.data) / cfg.optimize.prices_file, PRICES[:hours])
    out = Path(cfg.paths.reports) / "optimize"
    run_optimization(cfg, out)
    cfg.replan.plan = str(out / "schedule.csv")
    return cfg, out / "schedule.csv"


@dataclass
class Day:
    planner: Replanner | None
    record: pd.DataFrame
    profit: dict


def presses(cfg, events: list[dict]) -> ScriptedPresses:
    """The scripted presses of the press server (pipeline/data/press_opcua.py) with `events`."""
    cfg = OmegaConf.merge(cfg, {"replan": {"scenarios": {"test": events}}})
    return scripted_presses(cfg, "test")[0]


def worth(cfg, planner: Replanner, record: pd.DataFrame) -> dict:
    return realised_profit(record, planner.day, Costs.from_cfg(cfg.costs), cfg.costs.machine_energy,
                           lambda frame: true_probability(frame, cfg.data.fault.truth),
                           float(cfg.replan.shortfall_usd_per_unit))


def static_day(cfg, events: list[dict]) -> Day:
    planner, _ = build_planner(cfg)
    sim, table, _ = scripted_presses(OmegaConf.merge(cfg, {"replan": {"scenarios": {"test": events}}}), "test")
    run_day(sim, lambda h: hour_plan_from_table(table, h), TICK_S)
    return Day(None, sim.record(), worth(cfg, planner, sim.record()))


def replanned_day(cfg, events: list[dict]) -> Day:
    planner, _ = build_planner(cfg)
    sim = presses(cfg, events)

    def follow(hour: int) -> HourPlan:
        n = planner.plan.next_hour(hour)
        return HourPlan(n["temperature_C"], n["humidity_pct"], n["units"], [int(b) for b in n["maintenance"]],
                        planner.plan.version)

    def listen(sample) -> None:
        triggers = planner.observe(sample.time_s, sample.signals())
        planner.warm_up()
        if triggers:
            planner.replan(sample.time_s, triggers)

    run_day(sim, follow, TICK_S, listen)
    return Day(planner, sim.record(), worth(cfg, planner, sim.record()))
