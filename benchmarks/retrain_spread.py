"""How far a retrain moves each headline metric: the three models retrained (and the schedule
re-optimised with the retrained fault network) on the repository's data/ under other torch
thread counts and training seeds, next to the committed figures (reports/*/metrics.json).

A retrain on another machine is a run with other floating-point summation orders (other CPU
kernels, other thread counts); the seeds bound how far such a perturbation can carry training.
Writes reports/bench/retrain_spread.json. Run from the repository root after `dvc repro`
(or `dvc pull`): `python benchmarks/retrain_spread.py [--variants threads2,seed43]`; each
variant takes about as long as the three training stages plus optimize.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import repo_root
from pipeline.core.io import write_json

MODELS = ("fault", "process", "inventory")
# Each variant: Hydra overrides of conf/ (data untouched: only training changes).
VARIANTS = {
    "same": [],  # the committed configuration again: same machine, same threads, same seed
    "threads2": [f"model.{m}.torch_threads=2" for m in MODELS],
    "seed43": ["seed=43"],
    "seed44": ["seed=44"],
}
# Headline metric: (report folder, dotted key in its metrics.json).
HEADLINES = {
    "fault test AUC": ("fault", "test.dnn.auc"),
    "fault test Brier": ("fault", "test.dnn.brier"),
    "process LSTM MASE (60 s)": ("process", "test.mase.lstm"),
    "process mean MAE improvement": ("process", "test.improvement_mean"),
    "inventory selected mean WAPE": ("inventory", "selected_mean_wape"),
    "inventory improvement vs naive": ("inventory", "improvement_vs_naive"),
    "schedule objective (USD)": ("optimize", "objective"),
}
STAGES = [["pipeline.fault"], ["pipeline.process"], ["pipeline.inventory", "train"]]


def headline_values(reports: Path) -> dict[str, float]:
    out = {}
    for name, (folder, key) in HEADLINES.items():
        data = json.loads((reports / folder / "metrics.json").read_text())
        out[name] = float(OmegaConf.select(OmegaConf.create(data), key))
    return out


def run_variant(root: Path, name: str, overrides: list[str], work: Path) -> dict:
    params = work / "params.yaml"
    compose(overrides, output=params, root=root)
    cfg = OmegaConf.load(params)
    cfg.paths.data = str(root / cfg.paths.data)  # the committed data; models and reports are the variant's
    cfg.paths.models = str(work / "models")
    cfg.paths.reports = str(work / "reports")
    OmegaConf.save(cfg, params)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    for stage in STAGES:
        subprocess.run([sys.executable, "-m", *stage, "--params", str(params)], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pipeline.optimize", "--config-path", str(work), "--config-name", "params"],
                   cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    return {"overrides": overrides, "seconds": time.perf_counter() - start,
            "metrics": headline_values(work / "reports")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {list(VARIANTS)}")
    parser.add_argument("--out", default="reports/bench/retrain_spread.json")
    parser.add_argument("--add", action="store_true", help="keep the variants already in --out, add these")
    args = parser.parse_args()
    root = repo_root()
    committed = headline_values(root / "reports")
    out = root / args.out
    runs = json.loads(out.read_text())["variants"] if args.add and out.exists() else {}
    for name in args.variants.split(","):
        with tempfile.TemporaryDirectory(prefix=f"retrain-{name}-") as work:
            runs[name] = run_variant(root, name, VARIANTS[name], Path(work))
        print(name, json.dumps(runs[name]["metrics"]), flush=True)
    spread = {m: {"committed": committed[m],
                  "max_abs_change": max(abs(r["metrics"][m] - committed[m]) for r in runs.values()),
                  "max_rel_change": max(abs(r["metrics"][m] - committed[m]) / abs(committed[m]) for r in runs.values())}
              for m in HEADLINES}
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "load_average": os.getloadavg()},
              "committed": committed, "variants": runs, "spread": spread}
    write_json(out, result)
    print(json.dumps(spread, indent=1))


if __name__ == "__main__":
    main()
