"""Benchmark of the schedule optimiser -> reports/bench/optimizer.json.

Side by side, each case under its own time limit (so the whole run stays near 15 min):
- the naive OMLT big-M model (OMLT's own formulation over all six inputs, interval bounds,
  N a variable) vs ours (conf/optimize defaults), 24 h, HiGHS;
- our formulation step by step (which step buys how much) at a shorter horizon;
- horizons 3, 6, 12, 24; a seeded random-weight 6-64-32-1 network; 7 days; 3 presses;
- Gurobi vs HiGHS where the pip licence allows (3 h), and the licence message beyond it.
Every solved case is verified outside the solver (onnxruntime + numpy).

    python benchmarks/optimizer.py [--quick] [--network models/fault_dnn.onnx]

Timings depend on the machine's load: the JSON records the load average before each case.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core.config import load_params  # noqa: E402
from pipeline.core.io import write_json  # noqa: E402
from pipeline.data.prices import profile_prices  # noqa: E402
from pipeline.optimize.example_network import build as build_network  # noqa: E402
from pipeline.optimize.costs import Costs  # noqa: E402
from pipeline.optimize.formulation import build_schedule_model, unstable_counts  # noqa: E402
from pipeline.optimize.instance import build_instance  # noqa: E402
from pipeline.optimize.network import load_fault_network  # noqa: E402
from pipeline.optimize.solve import SolverUnavailableError, solve  # noqa: E402
from pipeline.optimize.verify import verify  # noqa: E402

log = logging.getLogger("bench")


def run_case(name: str, base, network: Path, overrides: dict, limit: float) -> dict:
    cfg = OmegaConf.create(OmegaConf.to_container(base, resolve=True))
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    cfg.solver.time_limit_s = limit
    row = {"case": name, "overrides": overrides, "time_limit_s": limit, "load_avg_1min": os.getloadavg()[0]}
    t0 = time.perf_counter()
    try:
        inst = build_instance(cfg, profile_prices(list(cfg.data.prices.profile_usd_per_mwh), cfg.data.prices.start,
                                                 int(cfg.optimize.horizon_hours)))
        net = load_fault_network(network)
        schedule = build_schedule_model(inst, net, Costs.from_cfg(cfg.costs), cfg.optimize.formulation)
        row["build_s"] = time.perf_counter() - t0
        row["bound_tightening_s"] = schedule.bound_seconds
        row["size"] = {k: sum(s.stats[k] for s in schedule.submodels) for k in ("variables", "binaries", "constraints")}
        row["sub_models"] = len(schedule.submodels)
        row["unstable_neurons_per_copy"] = {k: {"interval": v["interval"], "tightened": v["tightened"]}
                                            for k, v in unstable_counts(schedule).items()}
        result = solve(schedule, cfg.solver)
        row.update(status=result.status, objective=result.objective, bound=result.bound, gap=result.gap,
                   solve_s=result.seconds, nodes=result.nodes, time_limit_hit=result.time_limit_hit,
                   per_sub_model=[{"label": s.label, "status": s.status, "s": s.seconds, "nodes": s.nodes,
                                   "objective": s.objective} for s in result.subs])
        ver = verify(schedule.instance, schedule.network, result, Costs.from_cfg(cfg.costs), cfg.optimize)
        row["verification"] = ver.metrics()
        row["units"], row["maintenance"] = int(result.values["x"].sum()), result.values["N"].tolist()
        row["x"], row["b"] = result.values["x"].tolist(), result.values["b"].tolist()
    except SolverUnavailableError as exc:
        row.update(status="solver_refused", message=str(exc))
    except Exception as exc:  # a benchmark row records the failure instead of stopping the run
        row.update(status="error", message=f"{type(exc).__name__}: {exc}")
    row["wall_s"] = time.perf_counter() - t0
    log.info("%-34s %-12s obj=%s gap=%s solve=%.1fs wall=%.1fs", name, row.get("status"), row.get("objective"),
             row.get("gap"), row.get("solve_s", float("nan")), row["wall_s"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default=None, help="default: models/fault_dnn.onnx, else a fitted stand-in")
    parser.add_argument("--quick", action="store_true", help="short limits, fewer cases (smoke test)")
    parser.add_argument("--only", default=None, help="comma-separated case name prefixes")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench" / "optimizer.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("pyomo", "pipeline.optimize.solve"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = load_params(ROOT / "params.yaml")
    tmp = Path(tempfile.mkdtemp(prefix="bench_opt_"))
    trained = Path(args.network) if args.network else ROOT / "models" / "fault_dnn.onnx"
    if not trained.exists():
        trained = build_network(tmp / "trained_stand_in.onnx", base.data.fault, "fitted", seed=0)
    random_net = build_network(tmp / "random.onnx", base.data.fault, "random", seed=0)
    fitted = build_network(tmp / "fitted.onnx", base.data.fault, "fitted", seed=0)
    q = 0.2 if args.quick else 1.0
    ours = {}
    naive = {"optimize.formulation.network_encoding": "omlt_bigm", "optimize.search.polish": False}
    steps = [  # each adds one step to the one before (6-hour horizon: the naive model solves there)
        ("steps/6h/0 naive OMLT big-M", naive),
        ("steps/6h/1 folded, interval bounds", {"optimize.formulation.bound_tightening": "interval",
                                                "optimize.formulation.one_sided_output": False,
                                                "optimize.formulation.enumerate_maintenance_count": False}),
        ("steps/6h/2 + LP bound tightening", {"optimize.formulation.one_sided_output": False,
                                              "optimize.formulation.enumerate_maintenance_count": False}),
        ("steps/6h/3 + one-sided output layer", {"optimize.formulation.enumerate_maintenance_count": False}),
        ("steps/6h/4 + N enumerated (ours)", {}),
        ("steps/6h/5 ours, region encoding", {"optimize.formulation.network_encoding": "regions"}),
    ]
    cases = [("24h/ours", ours, 240), ("24h/ours, fitted stand-in net", {"_network": "fitted"}, 240),
             ("24h/naive OMLT big-M", naive, 120)]
    cases += [(f"{h}h/ours", {"optimize.horizon_hours": h}, 60) for h in (3, 6, 12)]
    cases += [(name, {"optimize.horizon_hours": 6, **o}, 45) for name, o in steps]
    cases += [("3h/gurobi", {"optimize.horizon_hours": 3, "solver.name": "gurobi_direct"}, 30),
              ("3h/highs", {"optimize.horizon_hours": 3}, 30),
              ("24h/gurobi (licence)", {"solver.name": "gurobi_direct"}, 30)]
    cases += [("7d/ours (N per day a variable)", {"optimize.horizon_hours": 168}, 90),
              ("24h/3 presses", {"optimize.presses": 3, "optimize.production.demand_per_day": 1800}, 90)]
    cases += [("24h/random-weight net", {"_network": "random"}, 90),
              ("24h/ours, 2 worker processes", {"solver.workers": 2}, 240)]
    out_path = Path(args.out)
    # rows of earlier runs are kept (a case re-run replaces its row), so cases can run in parts
    rows = json.loads(out_path.read_text())["cases"] if out_path.exists() else []
    for name, overrides, limit in cases:
        if args.only and not any(name.startswith(p) for p in args.only.split(",")):
            continue
        overrides = dict(overrides)
        net = {"random": random_net, "fitted": fitted, None: trained}[overrides.pop("_network", None)]
        row = run_case(name, base, net, overrides, limit * q) | {"network": str(net)}
        rows = [r for r in rows if r["case"] != name] + [row]
        out = {"machine": {"cpus": os.cpu_count(), "note": "shared machine: see load_avg_1min per case"},
               "gap_target": float(base.solver.mip_rel_gap), "cases": rows}
        write_json(out_path, out)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
