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
import logging
import sys
from pathlib import Path

import pandas as pd

from pipeline.core.opcua_security import add_policy_flag, policy_override
from pipeline.optimize.live.planner import build_planner
from pipeline.optimize.live.service import LivePlanner


def main() -> None:
    from pipeline.core.config import load_params
    from pipeline.core.settings import costs, live, optimize, replan, run, solver, tracking

    parser = argparse.ArgumentParser(description="Re-plan the rest of the day from live press signals over OPC UA.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    parser.add_argument("--endpoint", default=None, help="the press server (default: replan.endpoint)")
    parser.add_argument("--plan", default=None, help="the day-ahead plan file (default: replan.plan)")
    parser.add_argument("--out", default=None, help="output folder (default: replan.out/<day>)")
    parser.add_argument("--until", default=None, help="stop at this line time, HH:MM (default: the day's end)")
    add_policy_flag(parser)
    args = parser.parse_args()
    cfg = load_params(args.params, {"replan": replan.Replan, "optimize": optimize.Optimize, "costs": costs.Costs,
                                    "solver": solver.Solver, "tracking": tracking.Tracking, "paths": run.Paths,
                                    "seed": run.Seed, "live": live.Live},
                      policy_override(args))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("asyncua", "pyomo", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # while the press server is down its session's publish loop logs a traceback a second; the
    # planner flags the loss (connection_lost) and the reconnection itself
    logging.getLogger("asyncua.client.ua_session").setLevel(logging.CRITICAL)
    logging.getLogger("pipeline.optimize.solve").setLevel(logging.WARNING)  # one line per version, not per sub-model
    replanner, day_start = build_planner(cfg, args.plan)
    end_s = replanner.day.hours * 3600.0
    until_s = end_s
    if args.until:
        try:
            until_s = pd.Timedelta(f"{args.until}:00" if args.until.count(":") == 1 else args.until).total_seconds()
        except ValueError:
            until_s = -1.0
        if not 0 <= until_s <= end_s or not all(p.isdigit() for p in args.until.split(":")):
            raise ValueError(f"--until {args.until!r}: allowed a time of the plan's day as HH:MM (00:00-{end_s / 3600:02.0f}:00)")
    out = Path(args.out or Path(cfg.replan.out) / f"{day_start:%Y-%m-%d}")
    live = LivePlanner(cfg, replanner, out, day_start, args.endpoint)
    print(f"live planner: day {day_start:%Y-%m-%d} from {args.plan or cfg.replan.plan} (v0: {replanner.plan.status}); "
          f"listening on {live.endpoint}, publishing on {live.publisher.endpoint}; {live.security.describe()}; "
          f"files in {out}", flush=True)
    stopped = False
    try:
        m = asyncio.run(live.run(until_s=until_s))
    except KeyboardInterrupt:
        m, stopped = live.summary(), True
    lat = m["signal_to_plan_s"]
    fmt = (lambda v: "-" if v is None else f"{v:.2f} s")  # noqa: E731
    print(f"live planner: {m['ticks']} ticks, {m['replans']} re-plans {m['triggers']}, {m['flags']} flags; "
          f"signal to published plan p50 {fmt(lat['p50'])}, p99 {fmt(lat['p99'])}" + ("; stopped by SIGINT" if stopped else ""),
          flush=True)
    if stopped:
        raise SystemExit(130)

if __name__ == "__main__":
    from pipeline.core.cli import expected_errors, take_debug_flag
    from pipeline.optimize.solve import SolverUnavailableError

    sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    with expected_errors("live planner", (ConnectionError, SolverUnavailableError)):
        main()
