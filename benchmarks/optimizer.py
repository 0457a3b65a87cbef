"""Benchmark of the schedule optimiser -> reports/bench/optimizer.json.

Side by side in one run, same instance, network and 2 cores:
- ours (conf/optimize defaults, HiGHS) on the default 24-hour day, several times (median);
- the peers on that day: OMLT's naive big-M model with HiGHS, PySCIPOpt-ML with SCIP (the
  `peers` extra), and Gurobi on our formulation where pip's size-limited licence admits it;
- which step bought how much: the previous round's search (no LP bounds, a cutoff that never
  pruned, no hour-value cuts), then + LP bounds and pruning, then + hour-value cuts (ours);
- other networks at 24 h: trained by our stage with the ReLU-stability penalty off, a network
  trained outside the project with plain torch and exported plainly (read through a sidecar
  YAML), a seeded random-weight 6-64-32-1 network;
- longer horizons and several presses: 48 h, 7 days (the default price day repeated, and a
  real CAISO week where ../shared/data is present), 3 presses x 24 h, 3 presses x 7 days.
Every schedule is verified outside the solver (onnxruntime + numpy); a failure is a row.

    python benchmarks/optimizer.py [--quick] [--only PREFIX[,PREFIX]] [--repeats 3]

Needs models/fault_dnn.onnx (`dvc repro train_fault`) and, for the SCIP peer,
`pip install -e ".[peers]"`. Timings depend on the machine's load: each row records it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.fault_model import ONNX_FILE
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.data.prices.stage import profile_prices
from pipeline.optimize.costs import Costs
from pipeline.optimize.decompose import DecomposedSchedule
from pipeline.optimize.formulation import build_schedule_model
from pipeline.optimize.instance import build_instance
from pipeline.optimize.network import load_fault_network
from pipeline.optimize.run import decomposes, solve_plan
from pipeline.optimize.solve import SolverUnavailableError
from pipeline.optimize.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-in networks live with the tests
from tests.optimize.example_network import build as build_network  # noqa: E402

ROOT = repo_root(Path(__file__).resolve().parent)
CAISO = ROOT.parent / "shared" / "data" / "prices" / "CAISO_avg_price_hourly_2021.csv"
log = logging.getLogger("bench")

ROUND_TWO = {"optimize.formulation.hour_value_cuts": False, "optimize.search.lp_bounds": False,
             "optimize.search.prune": False, "optimize.search.start": False}


def _prices(cfg, week_from: str | None) -> pd.DataFrame:
    hours = int(cfg.optimize.horizon_hours)
    if week_from is None:
        return profile_prices(list(cfg.data.prices.profile_usd_per_mwh), cfg.data.prices.start, hours)
    table = pd.read_csv(CAISO, parse_dates=["date"])
    table = table[table.date >= week_from].iloc[:hours]
    return pd.DataFrame({"timestamp": table.date.to_numpy(), "price_usd_per_mwh": table.price.to_numpy()})


def _cfg(base, overrides: dict, limit: float):
    cfg = OmegaConf.create(OmegaConf.to_container(base, resolve=True))
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    cfg.solver.time_limit_s = limit
    return cfg


def run_ours(cfg, network: Path, week_from: str | None) -> dict:
    t0 = time.perf_counter()
    inst = build_instance(cfg, _prices(cfg, week_from))
    net = load_fault_network(network)
    costs = Costs.from_cfg(cfg.costs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if decomposes(inst, cfg):
            plan = DecomposedSchedule.build(inst, net, costs, cfg.optimize.formulation)
        else:
            plan = build_schedule_model(inst, net, costs, cfg.optimize.formulation)
    build_s = time.perf_counter() - t0
    result = solve_plan(plan, cfg)
    ver = verify(inst, net, result, costs, cfg.optimize)
    row = {"status": result.status, "objective": result.objective, "objective_true_sigmoid": ver.objective_true,
           "bound": result.bound, "gap": result.gap, "build_s": build_s, "solve_s": result.seconds,
           "nodes": result.nodes, "verified": True, "maintenance": result.values["N"].tolist(),
           "sub_models": [{"label": s.label, "status": s.status, "s": round(s.seconds, 3), "lp_bound": s.lp_bound}
                          for s in result.subs]}
    if not isinstance(plan, DecomposedSchedule):
        row["binaries_per_sub_model"] = [s.stats["binaries"] for s in plan.submodels]
    return row


def run_scip(cfg, network: Path, limit: float) -> dict:
    import peer_scip

    inst = build_instance(cfg, _prices(cfg, None))
    result = peer_scip.solve(inst, load_fault_network(network), Costs.from_cfg(cfg.costs), limit,
                             threads=int(cfg.solver.threads))
    return result | {"solve_s": result.pop("seconds"), "verified": result.get("objective") is not None}


def case(name: str, base, network: Path, overrides: dict, limit: float, method: str = "ours",
         week_from: str | None = None) -> dict:
    cfg = _cfg(base, overrides, limit)
    row = {"case": name, "method": method, "network": network.name, "overrides": overrides, "time_limit_s": limit,
           "prices": f"CAISO 2021 from {week_from}" if week_from else "default profile day", "load_avg_1min": os.getloadavg()[0]}
    start = time.perf_counter()
    try:
        row |= run_scip(cfg, network, limit) if method == "PySCIPOpt-ML (SCIP)" else run_ours(cfg, network, week_from)
    except SolverUnavailableError as exc:
        row |= {"status": "solver_refused", "message": str(exc)}
    except Exception as exc:  # a benchmark row records a failure instead of stopping the run
        row |= {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    row["wall_s"] = time.perf_counter() - start
    log.info("%-48s %-22s %-12s obj=%s gap=%s solve=%.1fs load=%.1f", name, method, row.get("status"),
             row.get("objective"), row.get("gap"), row.get("solve_s", float("nan")), row["load_avg_1min"])
    return row


def networks(tmp: Path, base) -> dict[str, Path]:
    """The networks of the run: ours (the stage's), plain-stage, outside-trained, random."""
    from plain_network import train_outside, train_stage_plain

    default = ROOT / "models" / ONNX_FILE
    if not default.exists():
        raise SystemExit(f"{default} not found: run `dvc repro train_fault` first")
    return {"default": default, "stage_plain": train_stage_plain(tmp / "stage_plain"),
            "outside_plain": train_outside(tmp / "outside_plain", ROOT / "data" / "fault"),
            "random": build_network(tmp / "random.onnx", base.data.fault, "random", seed=0)}


def plan_cases(nets: dict[str, Path], q: float, repeats: int) -> list[tuple]:
    d, caiso = nets["default"], "2021-07-05" if CAISO.exists() else None
    cases = [(f"24h default net #{i + 1}", d, {}, 60 * q, "ours", None) for i in range(repeats)]
    cases += [("24h default net", d, {"optimize.formulation.network_encoding": "omlt_bigm",
                                      "optimize.search.polish": False, **ROUND_TWO}, 120 * q, "OMLT big-M (HiGHS)", None),
              ("24h default net", d, {}, 120 * q, "PySCIPOpt-ML (SCIP)", None),
              ("24h default net", d, {"solver.name": "gurobi_direct", "optimize.formulation.hour_value_cuts": False},
               60 * q, "ours (Gurobi, pip licence; no cuts: their rows exceed it)", None),
              ("steps/1 previous round's search", d, ROUND_TWO, 120 * q, "ours", None),
              ("steps/2 + LP bounds, pruning, working cutoff", d, {"optimize.formulation.hour_value_cuts": False}, 120 * q, "ours", None),
              ("steps/3 + hour-value cuts (ours)", d, {}, 120 * q, "ours", None),
              ("24h stage net, stability penalty off", nets["stage_plain"], {}, 120 * q, "ours", None),
              ("24h outside net, plain torch + sidecar", nets["outside_plain"], {}, 120 * q, "ours", None),
              ("24h random-weight net", nets["random"], {}, 120 * q, "ours", None),
              ("48h", d, {"optimize.horizon_hours": 48}, 120 * q, "ours", None),
              ("7d, default price day", d, {"optimize.horizon_hours": 168}, 120 * q, "ours", None),
              ("3 presses x 24h", d, {"optimize.presses": 3, "optimize.production.demand_per_day": 1800}, 120 * q, "ours", None)]
    if caiso:
        cases += [("7d, CAISO week", d, {"optimize.horizon_hours": 168}, 120 * q, "ours", caiso),
                  ("3 presses x 7d, CAISO week", d, {"optimize.horizon_hours": 168, "optimize.presses": 3,
                                                     "optimize.production.demand_per_day": 1800}, 240 * q, "ours", caiso)]
    else:
        cases += [("3 presses x 7d, default price day", d, {"optimize.horizon_hours": 168, "optimize.presses": 3,
                                                            "optimize.production.demand_per_day": 1800}, 240 * q, "ours", None)]
    return cases


def summary(rows: list[dict]) -> dict:
    ours = [r["solve_s"] for r in rows if r["case"].startswith("24h default net #") and r.get("status") == "optimal"]
    peers = {r["method"]: r.get("solve_s") for r in rows if r["case"] == "24h default net" and r["method"] != "ours"}
    median = statistics.median(ours) if ours else None
    return {"default_24h_ours_median_solve_s": median,
            "peer_solve_s": peers,
            "speedup_vs_peer": {k: (v / median if median and v else None) for k, v in peers.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of every time limit (smoke test)")
    parser.add_argument("--only", default=None, help="comma-separated case name prefixes")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the default 24-hour case (median)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench" / "optimizer.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("pyomo", "pipeline"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = load_params(ROOT / "params.yaml")
    q = 0.2 if args.quick else 1.0
    with tempfile.TemporaryDirectory(prefix="bench_opt_") as tmp:
        nets = networks(Path(tmp), base)
        rows = []
        for name, net, overrides, limit, method, week in plan_cases(nets, q, args.repeats):
            if args.only and not any(name.startswith(p) for p in args.only.split(",")):
                continue
            rows.append(case(name, base, net, overrides, limit, method, week))
            out = {"machine": {"cpus": os.cpu_count(), "note": "shared machine: see load_avg_1min per row"},
                   "gap_target": float(base.solver.mip_rel_gap), "summary": summary(rows), "cases": rows}
            write_json(args.out, out)
    print(json.dumps(summary(rows), indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
