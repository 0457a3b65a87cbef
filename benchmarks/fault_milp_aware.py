"""Effect of MILP-aware training on the fault DNN: test AUC and provably stable neurons
over the optimiser's box (interval and LP bounds), on the same generated data and seed.

    python benchmarks/fault_milp_aware.py [--multipliers 1,3,10] [--variants off,stability_x1] [overrides ...]

Variants: off (the default); L1 + pruning only; the ReLU-stability penalty only, at 1x, 3x
and 10x conf's weight; both at conf's weights (conf/model/fault/dnn.yaml, milp_aware).
Writes reports/bench/fault_milp_aware.json.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from fault_common import isolated_tracking, machine, prepared, scratch_cfg

from pipeline.core.config import repo_root
from pipeline.core.io import write_json
from pipeline.fault.train import train

ON = "model.fault.milp_aware.enabled=true"
NO_L1 = ["model.fault.milp_aware.l1_weight=0", "model.fault.milp_aware.prune_below=0"]


def variants(stability_weight: float, multipliers: list[float]) -> dict[str, list[str]]:
    """off; L1 + pruning alone; the stability penalty alone at multiples of conf's weight; both."""
    out = {"off": [], "l1_prune_only": [ON, "model.fault.milp_aware.stability_weight=0"]}
    for k in multipliers:
        out[f"stability_x{k:g}"] = [ON, *NO_L1, f"model.fault.milp_aware.stability_weight={stability_weight * k:g}"]
    out["stability_l1_prune"] = [ON]
    return out


def summary(metrics: dict) -> dict:
    return {"test_auc": metrics["test"]["dnn"]["auc"], "bayes_minus_dnn_auc": metrics.get("bayes_minus_dnn_auc"),
            "test_brier": metrics["test"]["dnn"]["brier"], "pruned_weights": metrics["training"]["pruned_weights"],
            "stable_interval": metrics["stability"]["interval"]["stable"],
            "stable_lp": metrics["stability"]["lp"]["stable"],
            "unstable_lp": metrics["stability"]["lp"]["unstable"],
            "neurons": metrics["stability"]["lp"]["neurons"],
            "layers_lp": metrics["stability_layers"]["lp"], "epochs": metrics["training"]["epochs"],
            "train_seconds": metrics["training"]["seconds"]}


def main(common: list[str], multipliers: list[float], names: list[str] | None = None) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_milp_") as tmp:
        scratch = Path(tmp)
        isolated_tracking(scratch)
        data_cfg = prepared(scratch / "data", common)
        runs = variants(float(data_cfg.model.fault.milp_aware.stability_weight), multipliers)
        for name in names or list(runs):
            cfg = _same_data(scratch_cfg(scratch / name, [*common, *runs[name]]), data_cfg)
            start = time.perf_counter()
            results[name] = {"overrides": runs[name], **summary(train(cfg)),
                             "stage_seconds": time.perf_counter() - start}
            print(name, {k: v for k, v in results[name].items() if k not in ("layers_lp", "overrides")}, flush=True)
    out = {"common_overrides": common, "variants": results, "machine": machine(),
           "note": "stable = provably always active or always inactive over conf's model.fault.stability_box"}
    write_json(repo_root() / "reports" / "bench" / "fault_milp_aware.json", out)
    return out


def _same_data(cfg, data_cfg):
    """Every variant trains on the one prepared data set."""
    from omegaconf import OmegaConf

    merged = OmegaConf.merge(cfg, {"paths": {"data": data_cfg.paths.data}})
    OmegaConf.set_readonly(merged, True)
    return merged


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multipliers", default="1,3,10",
                        help="stability-penalty weights to try, as multiples of conf's milp_aware.stability_weight")
    parser.add_argument("--variants", default=None, help="comma-separated subset of the variant names")
    args, overrides = parser.parse_known_args(sys.argv[1:])
    main(overrides, [float(k) for k in args.multipliers.split(",")], args.variants.split(",") if args.variants else None)
