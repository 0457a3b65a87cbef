"""The live planner: listens to the presses over OPC UA, re-plans the rest of the day, publishes.

    python -m pipeline.optimize.live                   # conf/replan: press server, triggers, where to publish
    python -m pipeline.optimize.live --until 18:00     # stop at that line time

It starts from the day-ahead plan (replan.plan, the optimize stage's schedule.csv) and the day of
the price file, subscribes to the press server (start one with `python -m pipeline.data.press_opcua`),
and prints one line per plan version. Files: <replan.out>/<day>/plan_v<NNN>.csv, versions.csv,
flags.csv, replan.json; MLflow: experiment tablet/replan, one run per day, one child per version.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from pipeline.optimize.live.planner import Replanner
from pipeline.optimize.live.remaining import check_day
from pipeline.optimize.live.resolve import RemainingSolver
from pipeline.optimize.live.service import LivePlanner
from pipeline.optimize.live.versions import day_ahead

log = logging.getLogger("pipeline.optimize.live")


def build_planner(cfg: DictConfig, plan_file: str | Path | None = None) -> tuple[Replanner, object]:
    """(the Replanner of the configured day, starting from its day-ahead plan; the day's first hour)."""
    from pipeline.optimize.costs import Costs
    from pipeline.optimize.instance import build_instance, read_prices
    from pipeline.optimize.network import load_fault_network
    from pipeline.optimize.run import network_path, prices_path

    day = build_instance(cfg, read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours)))
    check_day(day)
    net = load_fault_network(network_path(cfg))
    plan_file = Path(plan_file or cfg.replan.plan)
    metrics_file = plan_file.with_name("metrics.json")
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
    first = day_ahead(plan_file, day, metrics)
    costs = Costs.from_cfg(cfg.costs)
    solver = RemainingSolver(net, cfg.optimize, costs, cfg.solver, float(cfg.replan.solve.time_limit_s))
    return Replanner(cfg, day, net, first, solver), day.timestamps[0]


def main() -> None:
    from pipeline.core.config import load_params

    parser = argparse.ArgumentParser(description="Re-plan the rest of the day from live press signals over OPC UA.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    parser.add_argument("--endpoint", default=None, help="the press server (default: replan.endpoint)")
    parser.add_argument("--plan", default=None, help="the day-ahead plan file (default: replan.plan)")
    parser.add_argument("--out", default=None, help="output folder (default: replan.out/<day>)")
    parser.add_argument("--until", default=None, help="stop at this line time, HH:MM (default: the day's end)")
    args = parser.parse_args()
    cfg = load_params(args.params)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("asyncua", "pyomo", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # while the press server is down its session's publish loop logs a traceback a second; the
    # planner flags the loss (connection_lost) and the reconnection itself
    logging.getLogger("asyncua.client.ua_session").setLevel(logging.CRITICAL)
    until_s = None
    if args.until:
        try:
            until_s = pd.Timedelta(f"{args.until}:00" if args.until.count(":") == 1 else args.until).total_seconds()
        except ValueError:
            raise ValueError(f"--until {args.until!r}: allowed a time of the day as HH:MM") from None
    replanner, day_start = build_planner(cfg, args.plan)
    out = Path(args.out or Path(cfg.replan.out) / f"{day_start:%Y-%m-%d}")
    live = LivePlanner(cfg, replanner, out, day_start, args.endpoint)
    print(f"live planner: day {day_start:%Y-%m-%d} from {args.plan or cfg.replan.plan} (v0: {replanner.plan.status}); "
          f"listening on {live.endpoint}, publishing on {live.publisher.endpoint}; files in {out}", flush=True)
    try:
        m = asyncio.run(live.run(until_s=until_s if until_s is not None else replanner.day.hours * 3600.0))
    except KeyboardInterrupt:
        m = live.summary()
    lat = m["signal_to_plan_s"]
    fmt = (lambda v: "-" if v is None else f"{v:.2f} s")  # noqa: E731
    print(f"live planner: {m['ticks']} ticks, {m['replans']} re-plans {m['triggers']}, {m['flags']} flags; "
          f"signal to published plan p50 {fmt(lat['p50'])}, p99 {fmt(lat['p99'])}", flush=True)

if __name__ == "__main__":
    from pipeline.core.cli import expected_errors, take_debug_flag
    from pipeline.optimize.solve import SolverUnavailableError

    sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    with expected_errors("live planner", (ConnectionError, SolverUnavailableError)):
        main()
