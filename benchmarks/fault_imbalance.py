"""The fault DNN on a rare-fault log: decision threshold rules and class weighting, measured.

    python benchmarks/fault_imbalance.py [--intercept -3.6] [--seeds 42 7 123] [hydra overrides ...]

The generator's knobs make a log with about 6 % faults (truth.intercept -3.6 instead of -2.2),
written in the Kaggle "Fault Prediction in Tablet Press Equipment" layout and read back through
data/fault=kaggle, as a user's file would be. The DNN is trained with class_weighting none and
balanced, once per training seed; each is scored on the test split at the threshold each rule
picks on validation (fixed 0.5, best F1, best production value), beside the Bayes limit (the
generator's true probability on the same rows). Writes reports/bench/fault_imbalance.json.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from fault_common import isolated_tracking, machine, scratch_cfg
from omegaconf import OmegaConf

from pipeline.contracts.fault_log import LOG_COLUMNS
from pipeline.core.config import repo_root
from pipeline.core.io import write_json
from pipeline.data.fault import generator, prepare
from pipeline.fault.datamodule import FaultDataModule
from pipeline.fault.train import evaluate, fit

KAGGLE = {"timestamp": "Timestamp", "pressure_kN": "Pressure", "temperature_C": "Temperature", "speed_rpm": "Speed",
          "vibration_mm_s": "Vibration", "humidity_pct": "Humidity", "maintenance_cycles": "Maintenance_Cycles",
          "fault": "Fault"}
RULES = ("fixed", "f1", "cost")


def kaggle_file(folder: Path, intercept: float, seed: int) -> tuple[Path, float, np.ndarray]:
    """The log in the Kaggle layout, its fault share and the generator's true probabilities."""
    base = scratch_cfg(folder / "gen", [])
    spec = OmegaConf.merge(base.data.fault, {"truth": {"intercept": intercept}})
    log, truth = generator.generate(spec, seed)
    path = folder / "tablet_press_kaggle.csv"
    log[LOG_COLUMNS].rename(columns=KAGGLE).to_csv(path, index=False)
    return path, float(log["fault"].mean()), truth["true_prob"].to_numpy()


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values), "runs": values}


def train_variant(cfg, seed: int) -> dict:
    dm = FaultDataModule(Path(cfg.paths.data) / "fault", cfg.model.fault.split, cfg.model.fault.batch_size)
    dm.setup()
    cfg = OmegaConf.merge(cfg, {"seed": seed})
    import mlflow

    start = time.perf_counter()
    with mlflow.start_run() as run:
        module, training = fit(cfg, dm, run)
    out = {"seed": seed, "train_seconds": time.perf_counter() - start, "epochs": training["epochs"], "rules": {}}
    for rule in RULES:
        ruled = OmegaConf.merge(cfg, {"model": {"fault": {"threshold": {"rule": rule}}}})
        scores, _, decision = evaluate(ruled, dm, module.net)
        dnn = scores["dnn"]
        out |= {k: dnn[k] for k in ("auc", "pr_auc", "brier", "ece", "log_loss")}
        out["rules"][rule] = {"threshold": dnn["threshold"], "f1": dnn["f1"], "accuracy": dnn["accuracy"],
                              "predicted_fault_share": dnn["predicted_fault_share"],
                              "statements": [s for s in decision["statements"] if s.startswith("dnn ")]}
    return out


def main(intercept: float, seeds: list[int], overrides: list[str]) -> dict:
    result = {"intercept": intercept, "seeds": seeds, "overrides": overrides, "machine_before": machine(),
              "variants": {}}
    with tempfile.TemporaryDirectory(prefix="bench_imbalance_") as tmp:
        scratch = Path(tmp)
        isolated_tracking(scratch)
        path, share, true_prob = kaggle_file(scratch, intercept, 42)
        result["fault_share"] = share
        for weighting in ("none", "balanced"):
            cfg = scratch_cfg(scratch / weighting, ["data/fault=kaggle", f"data.fault.path={path}",
                                                    f"model.fault.class_weighting={weighting}", *overrides])
            prepare(cfg, Path(cfg.paths.data) / "fault", Path(cfg.paths.reports) / "data")
            runs = [train_variant(cfg, seed) for seed in seeds]
            summary = {k: _summary([r[k] for r in runs]) for k in ("auc", "pr_auc", "brier", "ece", "epochs")}
            summary["rules"] = {rule: {k: _summary([r["rules"][rule][k] for r in runs])
                                       for k in ("threshold", "f1", "accuracy", "predicted_fault_share")}
                                for rule in RULES}
            summary["statements"] = sorted({s for r in runs for rule in RULES for s in r["rules"][rule]["statements"]})
            result["variants"][weighting] = {"summary": summary, "runs": runs}
        dm = FaultDataModule(Path(cfg.paths.data) / "fault", cfg.model.fault.split, cfg.model.fault.batch_size)
        dm.setup()
        test_truth = true_prob[-len(dm.splits["test"]):]  # the chronological split's last rows, as read back
        result["bayes"] = {"auc": float(roc_auc_score(dm.splits["test"].y, test_truth)),
                           "pr_auc": float(average_precision_score(dm.splits["test"].y, test_truth))}
    result["machine_after"] = machine()
    write_json(repo_root() / "reports" / "bench" / "fault_imbalance.json", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intercept", type=float, default=-3.6, help="truth.intercept of the generated log")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 123], help="training seeds")
    args, rest = parser.parse_known_args()
    out = main(args.intercept, args.seeds, rest)
    print(f"fault share {out['fault_share']:.3f}; Bayes limit AUC {out['bayes']['auc']:.4f} "
          f"PR AUC {out['bayes']['pr_auc']:.4f}")
    for weighting, v in out["variants"].items():
        s = v["summary"]
        print(f"class_weighting={weighting} (mean of {len(args.seeds)} seeds): AUC {s['auc']['mean']:.4f} "
              f"PR AUC {s['pr_auc']['mean']:.4f} Brier {s['brier']['mean']:.4f} ECE {s['ece']['mean']:.4f} "
              f"epochs {s['epochs']['runs']}")
        for rule, r in s["rules"].items():
            print(f"  threshold {rule:5s} {r['threshold']['mean']:.3f}: F1 {r['f1']['mean']:.3f} "
                  f"[{r['f1']['min']:.3f}, {r['f1']['max']:.3f}] accuracy {r['accuracy']['mean']:.3f} "
                  f"predicted faults {r['predicted_fault_share']['mean']:.3f}")
        for statement in s["statements"]:
            print(f"  {statement}")
