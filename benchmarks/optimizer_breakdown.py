"""Where a sub-model's time goes -> reports/bench/optimizer_breakdown.json.

For each maintenance-count sub-model of the default 24-hour day, with and without the
hour-value cuts: Pyomo build, hand-over to HiGHS, the LP relaxation (its bound), and the MILP
solve from HiGHS's own log (root bound after cuts, when the first and the final incumbent
appeared, restarts, nodes, total), each sub-model solved on its own (no pruning).

    python benchmarks/optimizer_breakdown.py [--network models/fault_dnn.onnx]
"""
from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

import highspy
from omegaconf import OmegaConf

from pipeline.contracts.fault_model import ONNX_FILE
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.data.prices.stage import profile_prices
from pipeline.optimize.costs import Costs
from pipeline.optimize.formulation import build_schedule_model, ensure_cuts
from pipeline.optimize.instance import build_instance
from pipeline.optimize.network import load_fault_network

ROOT = repo_root(Path(__file__).resolve().parent)
ROW = re.compile(r"^\s*([A-Z]?)\s+(\d+)\s+\d+\s+\d+\s+\S+\s+(\S+)\s+(\S+)\s+\S+.*?(\d+\.\d+)s\s*$")


def _log_facts(log: str) -> dict:
    """Root bound, first/last incumbent times and restarts from a HiGHS MIP log."""
    rows = [m.groups() for line in log.splitlines() if (m := ROW.match(line))]
    root = [r for r in rows if r[1] == "0"]
    found = [r for r in rows if r[0] and r[3] not in ("-inf", "inf")]
    return {"root_bound_after_cuts": float(root[-1][2]) if root else None,
            "root_seconds": float(root[-1][4]) if root else None,
            "first_incumbent_s": float(found[0][4]) if found else None,
            "last_incumbent_s": float(found[-1][4]) if found else None,
            "restarts": log.count("restarting")}


def measure(cfg, network: Path, cuts: bool) -> list[dict]:
    cfg = OmegaConf.merge(cfg, {"optimize": {"formulation": {"hour_value_cuts": cuts}, "network_file": network.name},
                                "paths": {"models": str(network.parent)}})
    inst = build_instance(cfg, profile_prices(list(cfg.data.prices.profile_usd_per_mwh), cfg.data.prices.start, 24))
    costs = Costs.from_cfg(cfg.costs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        net = load_fault_network(network)
        plan = build_schedule_model(inst, {inst.rows[0].network_file: net}, costs, cfg.optimize.formulation)
        for sub in plan.submodels:  # models and cuts are built on first use: build them here, timed
            ensure_cuts(plan, sub)
        shared_s = time.perf_counter() - t0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for sub in plan.submodels:
            mps, log = Path(tmp) / "m.mps", Path(tmp) / "highs.log"
            t0 = time.perf_counter()
            sub.model.write(str(mps), io_options={"symbolic_solver_labels": False})
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.readModel(str(mps))
            handover = time.perf_counter() - t0
            h.setOptionValue("threads", int(cfg.solver.threads))
            h.setOptionValue("solve_relaxation", True)
            t0 = time.perf_counter()
            h.run()
            lp_s, lp = time.perf_counter() - t0, h.getInfo().objective_function_value
            h.setOptionValue("solve_relaxation", False)
            h.setOptionValue("output_flag", True)
            h.setOptionValue("log_to_console", False)
            h.setOptionValue("log_file", str(log))
            h.setOptionValue("time_limit", float(cfg.solver.time_limit_s))
            t0 = time.perf_counter()
            h.run()
            info = h.getInfo()
            rows.append({"sub_model": sub.label, "cuts": cuts, "build_s": sub.build_seconds, "shared_s": shared_s,
                         "handover_s": handover, "lp_s": lp_s, "lp_bound": lp, "mip_s": time.perf_counter() - t0,
                         "objective": info.objective_function_value, "bound": info.mip_dual_bound,
                         "nodes": info.mip_node_count, "status": h.modelStatusToString(h.getModelStatus()),
                         **_log_facts(log.read_text()), "load_avg_1min": os.getloadavg()[0]})
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default=str(ROOT / "models" / ONNX_FILE))
    args = parser.parse_args()
    cfg = OmegaConf.create(OmegaConf.to_container(load_params(ROOT / "params.yaml"), resolve=True))
    rows = measure(cfg, Path(args.network), cuts=False) + measure(cfg, Path(args.network), cuts=True)
    out = ROOT / "reports" / "bench" / "optimizer_breakdown.json"
    write_json(out, {"network": args.network, "threads": int(cfg.solver.threads), "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
