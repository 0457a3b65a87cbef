"""Benchmark of the schedule optimiser -> reports/bench/optimizer.json.

Side by side in one run, 2 cores, every schedule verified outside the solver (onnxruntime for
every press's own network, numpy for the objective and every constraint; a failure is a row):

suite `plant` (issue 24, the default):
- the default 24-hour day, several times (median), its objective against the committed
  reports/optimize/metrics.json;
- networks this project never trained for the optimiser, one press, 24 h: plainly trained in
  torch elsewhere (6-64-32-1, two seeds; 6-64-64-32-1), seeded random weights (6-64-32-1, two
  seeds; 6-64-64-32-1), fitted to the generator by another script (6-64-64-32-1);
- 5 different presses in one room x 24 h (five networks: ours, one trained plainly elsewhere,
  one random, two fitted elsewhere; different inputs and capacities);
- 2 rooms x 5 different presses x 7 days of real CAISO prices (../shared/data), with joblib
  processes and on a local Ray head (the head started before the clock, in a private network
  namespace where `unshare` allows it, as tests/sweep/with_ray_head.py does);
- scaling: 1, 3, 5, 10, 20 presses x 24 h (our network, each press its own inputs and
  capacity, rooms of at most 5), with sub-problems solved and reused;
- 3 identical presses x 7 days (the default price day; the CAISO week).
suite `peers` (the previous round's comparison): OMLT and PySCIPOpt-ML on the default day,
Gurobi on our formulation, the search steps.

    python benchmarks/optimizer.py [--suite plant|peers|all] [--only PREFIX[,PREFIX]] [--repeats 3] [--quick]
                                   [--nets DIR]   # keep (and reuse) the networks it trains

Needs models/fault_dnn.onnx (`dvc repro train_fault`), data/fault (for the networks trained
elsewhere), for Ray the cluster extra (`make cluster`), for SCIP the peers extra. Timings depend
on the machine's load: each row records the 1-minute load average before and after it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import OmegaConf

from pipeline.contracts.fault_model import ONNX_FILE
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.data.prices.stage import profile_prices
from pipeline.optimize.costs import Costs
from pipeline.optimize.run import optimize, prepare
from pipeline.optimize.solve import SolverUnavailableError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-in networks live with the tests
from tests.optimize.example_network import build as build_network  # noqa: E402

ROOT = repo_root(Path(__file__).resolve().parent)
CAISO = ROOT.parent / "shared" / "data" / "prices" / "CAISO_avg_price_hourly_2021.csv"
CAISO_WEEK = "2021-07-05"
RAY_HEAD = ROOT / "tests" / "sweep" / "with_ray_head.py"
log = logging.getLogger("bench")

ROUND_TWO = {"optimize.formulation.hour_value_cuts": False, "optimize.search.lp_bounds": False,
             "optimize.search.prune": False, "optimize.search.start": False, "optimize.search.day_dp": False}
NO_DP = {"optimize.search.day_dp": False}
# press variants: (fixed inputs, units per hour), one per press of a plant, in turn
VARIANTS = [({"pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.30}, 36),
            ({"pressure_kN": 60.0, "speed_rpm": 780.0, "vibration_mm_s": 0.25}, 40),
            ({"pressure_kN": 64.0, "speed_rpm": 740.0, "vibration_mm_s": 0.35}, 32),
            ({"pressure_kN": 66.0, "speed_rpm": 700.0, "vibration_mm_s": 0.45}, 30),
            ({"pressure_kN": 61.0, "speed_rpm": 770.0, "vibration_mm_s": 0.28}, 38)]


# --- inputs ----------------------------------------------------------------------------------


def prices_table(cfg, caiso: bool) -> pd.DataFrame:
    hours = int(cfg.optimize.horizon_hours)
    if not caiso:
        return profile_prices(list(cfg.data.prices.profile_usd_per_mwh), cfg.data.prices.start, hours)
    table = pd.read_csv(CAISO, parse_dates=["date"])
    table = table[table.date >= CAISO_WEEK].iloc[:hours]
    return pd.DataFrame({"timestamp": table.date.dt.strftime("%Y-%m-%d %H:%M:%S"), "price_usd_per_mwh": table.price})


def plant_file(folder: Path, rooms: list[list[tuple[str, Path]]], variants: bool = True) -> Path:
    """A plant YAML (rooms of (press name, network)) with its networks copied beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    spec, k = {"rooms": []}, 0
    for r, presses in enumerate(rooms):
        entries = []
        for name, net in presses:
            shutil.copy(net, folder / net.name)
            if net.with_suffix(".yaml").exists():
                shutil.copy(net.with_suffix(".yaml"), folder / net.with_suffix(".yaml").name)
            fixed, cap = VARIANTS[k % len(VARIANTS)]
            entry = {"name": name, "network_file": net.name}
            if variants:
                entry.update(fixed_inputs={**fixed, "speed_rpm": fixed["speed_rpm"] - 10 * (k // len(VARIANTS))},
                             max_per_hour=cap)
            entries.append(entry)
            k += 1
        spec["rooms"].append({"name": f"room{r + 1}", "presses": entries})
    path = folder / "plant.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def networks(tmp: Path, base, suite: str) -> dict[str, Path]:
    """Ours (the stage's) and networks never trained for the optimiser."""
    from plain_network import train_outside

    default = ROOT / "models" / ONNX_FILE
    if not default.exists():
        raise SystemExit(f"{default} not found: run `dvc repro train_fault` first")
    data = ROOT / "data" / "fault"
    nets = {"ours": default}
    made = lambda name, make: tmp / f"{name}.onnx" if (tmp / f"{name}.onnx").exists() else make()  # noqa: E731
    if suite in ("plant", "all"):
        for seed in (1, 2):
            nets[f"plain_s{seed}"] = made(f"plain_s{seed}", lambda seed=seed: train_outside(
                tmp / f"plain_s{seed}", data, epochs=60, seed=seed, name=f"plain_s{seed}"))
        nets["plain_deep"] = made("plain_deep", lambda: train_outside(tmp / "plain_deep", data, epochs=60, seed=3,
                                                                      hidden=(64, 64, 32), name="plain_deep"))
        for seed in (0, 7):
            nets[f"random_s{seed}"] = made(f"random_s{seed}", lambda seed=seed: build_network(
                tmp / f"random_s{seed}.onnx", base.data.fault, "random", seed=seed))
        nets["random_deep"] = made("random_deep", lambda: build_network(tmp / "random_deep.onnx", base.data.fault,
                                                                        "random", seed=0, hidden=(64, 64, 32)))
        nets["fitted_deep"] = made("fitted_deep", lambda: build_network(tmp / "fitted_deep.onnx", base.data.fault,
                                                                        "fitted", seed=3, hidden=(64, 64, 32)))
        nets["fitted_s5"] = made("fitted_s5", lambda: build_network(tmp / "fitted_s5.onnx", base.data.fault,
                                                                    "fitted", seed=5))
    if suite in ("peers", "all"):
        from plain_network import train_stage_plain

        nets["stage_plain"] = train_stage_plain(tmp / "stage_plain")
        nets.setdefault("plain_s1", train_outside(tmp / "plain_s1", data, seed=1, name="plain_s1"))
        nets.setdefault("random_s0", build_network(tmp / "random_s0.onnx", base.data.fault, "random", seed=0))
    return nets


# --- one case ----------------------------------------------------------------------------------


def _cfg(base, overrides: dict, limit: float, scratch: Path, caiso: bool, network: Path | None, plant: Path | None):
    cfg = OmegaConf.create(OmegaConf.to_container(base, resolve=True))
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    cfg.solver.time_limit_s = limit
    data = scratch / "data"
    (data / "prices").mkdir(parents=True, exist_ok=True)
    prices_table(cfg, caiso).to_csv(data / "prices" / "prices.csv", index=False)
    cfg.paths.data, cfg.optimize.prices_file = str(data), "prices/prices.csv"
    if network is not None:
        cfg.paths.models, cfg.optimize.network_file = str(network.parent), network.name
    if plant is not None:
        cfg.optimize.plant_file = str(plant)
    return cfg


def run_ours(cfg) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        plan = prepare(cfg)
        build_s = time.perf_counter() - t0
        _, m = optimize(plan, cfg)
    s = m["solve"]
    row = {"status": s["status"], "objective": m["objective"],
           "objective_true_sigmoid": m["verification"]["objective_true_sigmoid"], "bound": s["bound"], "gap": s["gap"],
           "build_s": build_s, "solve_s": s["seconds"], "nodes": s["nodes"], "verified": m["verification"]["passed"],
           "units": m["units"], "maintenance": m["maintenance_count"],
           "sub_models": [{"label": r["label"], "status": r["status"], "s": round(r["seconds"], 3)} for r in s["sub_models"]]}
    decomposition = m["model"].get("decomposition")
    if decomposition:
        row["decomposition"] = decomposition
    return row


def run_scip(cfg) -> dict:
    import peer_scip

    from pipeline.optimize.instance import build_instance, read_prices
    from pipeline.optimize.network import load_fault_network
    from pipeline.optimize.run import network_path, prices_path

    inst = build_instance(cfg, read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours)))
    result = peer_scip.solve(inst, load_fault_network(network_path(cfg)), Costs.from_cfg(cfg.costs),
                             float(cfg.solver.time_limit_s), threads=int(cfg.solver.threads))
    return result | {"solve_s": result.pop("seconds"), "verified": result.get("objective") is not None}


def case(spec: dict, base, scratch: Path) -> dict:
    row = {"case": spec["name"], "method": spec.get("method", "ours"), "overrides": spec.get("overrides", {}),
           "time_limit_s": spec["limit"], "prices": f"CAISO 2021 from {CAISO_WEEK}" if spec.get("caiso") else "default profile day",
           "network": spec["network"].name if spec.get("network") else None, "plant": spec.get("plant_desc"),
           "load_avg_1min": os.getloadavg()[0]}
    start = time.perf_counter()
    try:
        if spec.get("ray"):
            row |= run_on_ray(spec, scratch)
        else:
            cfg = _cfg(base, spec.get("overrides", {}), spec["limit"], scratch / "case", spec.get("caiso", False),
                       spec.get("network"), spec.get("plant"))
            row |= run_scip(cfg) if row["method"] == "PySCIPOpt-ML (SCIP)" else run_ours(cfg)
    except SolverUnavailableError as exc:
        row |= {"status": "solver_refused", "message": str(exc)}
    except Exception as exc:  # a benchmark row records a failure instead of stopping the run
        row |= {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    row["wall_s"] = time.perf_counter() - start
    row["load_avg_1min_after"] = os.getloadavg()[0]
    log.info("%-52s %-10s %-10s obj=%s gap=%s wall=%.1fs load=%.1f", spec["name"], row["method"][:10], row.get("status"),
             row.get("objective"), row.get("gap"), row["wall_s"], row["load_avg_1min"])
    return row


def run_on_ray(spec: dict, scratch: Path) -> dict:
    """The case in a child process connected to a Ray head started before the clock (in a
    private network namespace where `unshare` works; otherwise a local Ray started by the child,
    its start timed apart)."""
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / "ray_row.json"
    child = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(_portable(spec)), "--out", str(out)]
    isolated = os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip")
    cmd = ["unshare", "--net", sys.executable, str(RAY_HEAD), *child] if isolated else child
    env = {**os.environ, "RAY_HEAD_LOG": str(scratch / "ray_head.log")}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"ray child failed: {done.stderr[-2000:]}")
    return json.loads(out.read_text()) | {"ray_head": "loopback namespace" if isolated else "local ray.init"}


def _portable(spec: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in spec.items()}


def child(spec_text: str, out: Path) -> None:
    """(--child) one Ray case: connect first, then the clock."""
    from pipeline.optimize.subproblems import connect_ray

    spec = json.loads(spec_text)
    for key in ("network", "plant"):
        if spec.get(key):
            spec[key] = Path(spec[key])
    t0 = time.perf_counter()
    connect_ray()
    connect = time.perf_counter() - t0
    base = load_params(ROOT / "params.yaml")
    cfg = _cfg(base, spec.get("overrides", {}), spec["limit"], out.parent / "ray_case", spec.get("caiso", False),
               spec.get("network"), spec.get("plant"))
    write_json(out, run_ours(cfg) | {"ray_connect_s": connect})


# --- the cases ---------------------------------------------------------------------------------


def plant_cases(nets: dict[str, Path], tmp: Path, q: float, repeats: int) -> list[dict]:
    ours = nets["ours"]
    cases = [{"name": f"24h default net #{i + 1}", "network": ours, "limit": 60 * q} for i in range(repeats)]
    for name in ("plain_s1", "plain_s2", "plain_deep", "random_s0", "random_s7", "random_deep", "fitted_deep"):
        cases.append({"name": f"foreign 24h {name}", "network": nets[name], "limit": 120 * q})
    five = [("A-ours", ours), ("B-plain", nets["plain_s1"]), ("C-random", nets["random_s0"]),
            ("D-fitted-deep", nets["fitted_deep"]), ("E-fitted", nets["fitted_s5"])]
    one_room = plant_file(tmp / "plant5", [five])
    cases.append({"name": "5 different presses x 24h, one room", "plant": one_room, "limit": 60 * q,
                  "plant_desc": "1 room: " + ", ".join(f"{n} ({p.name})" for n, p in five),
                  "overrides": {"optimize.production.demand_per_day": 3000}})
    second = [(f"{n}-2", p) for n, p in five]
    two_rooms = plant_file(tmp / "plant2x5", [five, second])
    if CAISO.exists():
        for parallel in ("joblib", "ray"):
            cases.append({"name": f"2 rooms x 5 presses x 7d CAISO ({parallel})", "plant": two_rooms, "caiso": True,
                          "limit": 300 * q, "ray": parallel == "ray", "plant_desc": "2 rooms x the 5 presses above",
                          "overrides": {"optimize.horizon_hours": 168, "optimize.production.demand_per_day": 6000,
                                        "optimize.parallel": parallel}})
    for k in (1, 3, 5, 10, 20):
        rooms = [[(f"P{i + 1}", ours) for i in range(r, min(r + 5, k))] for r in range(0, k, 5)]
        cases.append({"name": f"scaling {k} presses x 24h", "plant": plant_file(tmp / f"scale{k}", rooms), "limit": 120 * q,
                      "plant_desc": f"{k} presses of our network, each its own inputs and capacity, rooms of <= 5",
                      "overrides": {"optimize.production.demand_per_day": 600 * k}})
    three = {"optimize.horizon_hours": 168, "optimize.presses": 3, "optimize.production.demand_per_day": 1800}
    cases.append({"name": "3 identical presses x 7d, default price day", "network": ours, "limit": 120 * q,
                  "overrides": three})
    if CAISO.exists():
        cases.append({"name": "3 identical presses x 7d, CAISO week", "network": ours, "caiso": True, "limit": 240 * q,
                      "overrides": three})
    return cases


def peer_cases(nets: dict[str, Path], q: float) -> list[dict]:
    d = nets["ours"]
    return [{"name": "24h default net", "network": d, "limit": 120 * q, "method": "OMLT big-M (HiGHS)",
             "overrides": {"optimize.formulation.network_encoding": "omlt_bigm", "optimize.search.polish": False,
                           **ROUND_TWO}},
            {"name": "24h default net", "network": d, "limit": 120 * q, "method": "PySCIPOpt-ML (SCIP)"},
            {"name": "24h default net", "network": d, "limit": 60 * q, "method": "ours (Gurobi, pip licence; no cuts, no DP)",
             "overrides": {"solver.name": "gurobi_direct", "optimize.formulation.hour_value_cuts": False, **NO_DP}},
            {"name": "steps/1 round two's search", "network": d, "limit": 120 * q, "overrides": ROUND_TWO},
            {"name": "steps/2 + LP bounds, pruning, working cutoff", "network": d, "limit": 120 * q,
             "overrides": {"optimize.formulation.hour_value_cuts": False, **NO_DP}},
            {"name": "steps/3 + hour-value cuts (round three)", "network": d, "limit": 120 * q, "overrides": NO_DP},
            {"name": "steps/4 + humidity DP (this round)", "network": d, "limit": 120 * q},
            {"name": "24h stage net, stability penalty off", "network": nets["stage_plain"], "limit": 120 * q},
            {"name": "round three on plain_s1 (no DP)", "network": nets["plain_s1"], "limit": 120 * q, "overrides": NO_DP},
            {"name": "round three on random_s0 (no DP)", "network": nets["random_s0"], "limit": 120 * q, "overrides": NO_DP}]


def summary(rows: list[dict]) -> dict:
    ok = lambda r: r.get("status") == "optimal"  # noqa: E731
    default = [r["solve_s"] for r in rows if r["case"].startswith("24h default net #") and ok(r)]
    reference = json.loads((ROOT / "reports" / "optimize" / "metrics.json").read_text())["objective"]
    defaults = [r for r in rows if r["case"].startswith("24h default net #") and "objective" in r]
    out = {"default_24h_median_solve_s": statistics.median(default) if default else None,
           "default_24h_objective_rel_diff_vs_committed": max((abs(r["objective"] - reference) / abs(reference)
                                                               for r in defaults), default=None),
           "committed_objective": reference}
    keys = ("status", "gap", "wall_s", "build_s", "solve_s", "load_avg_1min")
    out["cases"] = {f"{r['case']} [{r['method']}]": {k: r.get(k) for k in keys} for r in rows
                    if not r["case"].startswith("24h default net #")}
    scaling = [r for r in rows if r["case"].startswith("scaling ") and "decomposition" in r]
    out["scaling"] = [{"presses": r["decomposition"]["presses"], "wall_s": r["wall_s"], "gap": r.get("gap"),
                       "solved": r["decomposition"]["sub_problems_solved"],
                       "reused": r["decomposition"]["sub_problems_reused"],
                       "wall_s_per_press": r["wall_s"] / r["decomposition"]["presses"], "load": r["load_avg_1min"]}
                      for r in scaling]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="plant", choices=["plant", "peers", "all"])
    parser.add_argument("--quick", action="store_true", help="a fifth of every time limit (smoke test)")
    parser.add_argument("--only", default=None, help="comma-separated case name prefixes")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the default 24-hour case (median)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench" / "optimizer.json"))
    parser.add_argument("--nets", default=None, help="keep the generated networks in this folder (reused when present)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("pyomo", "pipeline"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.child:
        return child(args.child, Path(args.out))
    base = load_params(ROOT / "params.yaml")
    q = 0.2 if args.quick else 1.0
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench_opt_") as tmp:
        tmp = Path(tmp)
        nets = networks(Path(args.nets) if args.nets else tmp / "nets", base, args.suite)
        specs = (plant_cases(nets, tmp, q, args.repeats) if args.suite in ("plant", "all") else []) + \
                (peer_cases(nets, q) if args.suite in ("peers", "all") else [])
        rows = []
        for i, spec in enumerate(specs):
            if args.only and not any(spec["name"].startswith(p) for p in args.only.split(",")):
                continue
            rows.append(case(spec, base, tmp / f"case{i}"))
            out = {"machine": {"cpus": os.cpu_count(), "note": "shared machine: see load_avg_1min per row"},
                   "command": " ".join(["python", "benchmarks/optimizer.py", *sys.argv[1:]]),
                   "gap_target": float(base.solver.mip_rel_gap), "wall_s": time.time() - started,
                   "summary": summary(rows), "cases": rows}
            write_json(args.out, out)
    print(json.dumps(summary(rows), indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
