"""Training time of the fault DNN on the default generated data (target: <= 120 s on 2 cores).

    python benchmarks/fault_training.py [hydra overrides ...]

Writes reports/bench/fault_training.json: the training (Trainer.fit) seconds, the whole
stage's seconds, epochs, test AUC vs the Bayes limit, and the machine's load while measured
(a busy shared machine inflates the times).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from fault_common import isolated_tracking, machine, prepared

from pipeline.core.config import repo_root
from pipeline.core.io import write_json
from pipeline.fault.train import train


def main(overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_fault_") as tmp:
        scratch = Path(tmp)
        isolated_tracking(scratch)
        cfg = prepared(scratch, overrides)
        before = machine()
        start = time.perf_counter()
        metrics = train(cfg)
        stage_seconds = time.perf_counter() - start
    result = {
        "overrides": overrides, "n_rows": int(cfg.data.fault.n_rows), "torch_threads": int(cfg.model.fault.torch_threads),
        "train_seconds": metrics["training"]["seconds"], "stage_seconds": stage_seconds,
        "epochs": metrics["training"]["epochs"], "best_epoch": metrics["training"]["best_epoch"],
        "seconds_per_epoch": metrics["training"]["seconds"] / metrics["training"]["epochs"],
        "target_train_seconds": 120.0, "meets_target": metrics["training"]["seconds"] <= 120.0,
        "test_auc": metrics["test"]["dnn"]["auc"], "bayes_auc": metrics["test"].get("bayes", {}).get("auc"),
        "machine_before": before, "machine_after": machine(),
    }
    write_json(repo_root() / "reports" / "bench" / "fault_training.json", result)
    return result


if __name__ == "__main__":
    out = main(sys.argv[1:])
    print({k: v for k, v in out.items() if not isinstance(v, dict)})
