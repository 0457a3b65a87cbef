"""The forecaster on every shipped real series, one held-out batch at a time: the 10-second
tablet-press series of Zagar & Mihelic (conf/data/line/press_10s.yaml: products 5, 6 and 7,
13 batches, read from ../shared/data; not part of the project). For each batch, train_process
runs with that batch as its test (`model.process.split.test_names`) and the 12 others as the
development batches of its cross-validation (selection, the global LSTM over every product,
golden profile), exactly as the stage runs; the batch is scored on its running press.

Per product, target and horizon it reports, for every held-out batch (the outer folds), the
deployed forecaster's MAE beside the best baseline's on that batch (chosen after the fact) and
the LSTM's, with the LSTM's gap and 95 % interval, the warnings per running hour, and the
summary over batches the issue's targets are about; plus the level-shift flags of each batch
against the other batches of its product.

    python benchmarks/process_real.py [--batches 117 369] [--cache /tmp/process_batches_cache.json] [overrides ...]

Writes reports/bench/process_batches.json (a subset run with --batches writes
process_batches_subset.json, so the full table is never overwritten by a part of it).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.data.line import stage as line
from pipeline.process.data import load_line
from pipeline.process.train import train

TOLERANCE = {"median": -0.005, "worst": -0.02}  # issue 23: deployed vs best baseline per batch


def configure(scratch: Path, overrides: list[str]):
    params = compose(["data/line=press_10s", *overrides, f"paths.data={scratch}/data", f"paths.models={scratch}/models",
                      f"paths.reports={scratch}/reports", f"trainer.default_root_dir={scratch}/.lightning",
                      f"tracking.uri=sqlite:///{scratch}/mlflow.db"], output=scratch / "params.yaml")
    return load_params(params)


def one_batch(cfg, name: str, scratch: Path) -> dict:
    """train_process with `name` as the test batch; its figures per target and horizon."""
    run_cfg = OmegaConf.merge(cfg, {"model": {"process": {"split": {"test_names": [name]}}},
                                    "paths": {"models": str(scratch / "models" / name),
                                              "reports": str(scratch / "reports" / name)}})
    t0 = time.perf_counter()
    m = train(run_cfg)
    seconds = time.perf_counter() - t0
    reports = Path(run_cfg.paths.reports) / "process"
    selection = pd.read_csv(reports / "selection.csv")
    shifts = pd.read_csv(reports / "shifts.csv")
    w = m["warnings"]["deployed"]
    mine = shifts[shifts.batch == name]
    return {
        "train_s": seconds, "loadavg_after": os.getloadavg(),
        "running_hours": w["running_hours"], "warnings": w["warnings"],
        "warnings_per_running_hour": w["warnings_per_running_hour"],
        "warnings_by_target": {t: v["warnings_per_running_hour"] for t, v in w["by_target"].items()},
        "lstm_deployed": m["selection"]["lstm_deployed"], "lstm_epochs": m["train"]["epochs"],
        "shift": [{"target": r.target, "level_sigma": r.level_sigma, "spread_ratio": r.spread_ratio,
                   "flagged": bool(r.flagged), "reference": r.reference} for r in mine.itertuples()],
        "shift_flags_of_development_batches": m["shifts"]["flags"],
        "by_target": {t: {f"{r.horizon_s:g}": row(r) for r in g.itertuples()} for t, g in selection.groupby("target")},
    }


def row(r) -> dict:
    return {"selected": r.selected, "selected_mae": r.selected_mae, "best_baseline": r.best_baseline,
            "best_baseline_mae": r.best_baseline_mae, "lstm_mae": r.lstm_mae,
            "selected_vs_best_baseline": r.selected_vs_best_baseline, "lstm_vs_best_baseline": r.lstm_vs_best_baseline,
            "lstm_vs_best_baseline_ci95": [r.lstm_vs_best_baseline_ci95_low, r.lstm_vs_best_baseline_ci95_high],
            "cv_baseline": r.cv_baseline, "cv_lstm_gain_median": r.cv_lstm_gain_median,
            "cv_lstm_gain_min": r.cv_lstm_gain_min}


def summarise(per_batch: dict, products: dict[str, str]) -> dict:
    """Per product, target and horizon: every held-out batch's figures and their summary."""
    out: dict = {}
    for name, b in per_batch.items():
        for target, by_h in b["by_target"].items():
            for h, r in by_h.items():
                entry = out.setdefault(products[name], {}).setdefault(target, {}).setdefault(h, {"folds": []})
                entry["folds"].append({"batch": name, **r, "warnings_per_running_hour": b["warnings_per_running_hour"]})
    for product in out.values():
        for by_h in product.values():
            for entry in by_h.values():
                entry.update(summary(entry["folds"]))
    return out


def summary(folds: list[dict]) -> dict:
    sel = np.array([f["selected_vs_best_baseline"] for f in folds])
    lstm = np.array([f["lstm_vs_best_baseline"] for f in folds])
    chosen = pd.Series([f["selected"] for f in folds]).value_counts().to_dict()
    best = pd.Series([f["best_baseline"] for f in folds]).value_counts().to_dict()
    return {"batches": len(folds), "selected": chosen, "selected_mae": float(np.median([f["selected_mae"] for f in folds])),
            "best_baseline": best, "best_baseline_mae": float(np.median([f["best_baseline_mae"] for f in folds])),
            "lstm_mae": float(np.median([f["lstm_mae"] for f in folds])),
            "selected_vs_best_baseline_median": float(np.median(sel)), "selected_vs_best_baseline_worst": float(sel.min()),
            "lstm_vs_best_baseline_median": float(np.median(lstm)), "lstm_vs_best_baseline_best": float(lstm.max()),
            "lstm_wins_2pct_ci_above_zero": [f["batch"] for f in folds
                                             if f["lstm_vs_best_baseline"] >= 0.02 and f["lstm_vs_best_baseline_ci95"][0] > 0],
            "warnings_per_running_hour": float(max(f["warnings_per_running_hour"] for f in folds))}


def targets_met(per_batch: dict) -> dict:
    """The issue's done-when, over every held-out batch, per target and horizon."""
    gaps: dict = {}
    for b in per_batch.values():
        for target, by_h in b["by_target"].items():
            for h, r in by_h.items():
                gaps.setdefault(f"{target}@{h}s", []).append(r["selected_vs_best_baseline"])
    rows = {k: {"median": float(np.median(v)), "worst": float(np.min(v)),
                "median_ok": bool(np.median(v) >= TOLERANCE["median"]), "worst_ok": bool(np.min(v) >= TOLERANCE["worst"])}
            for k, v in gaps.items()}
    wph = {n: b["warnings_per_running_hour"] for n, b in per_batch.items()}
    return {"deployed_vs_best_baseline": rows, "all_median_ok": all(r["median_ok"] for r in rows.values()),
            "all_worst_ok": all(r["worst_ok"] for r in rows.values()),
            "warnings_le_1_per_running_hour_every_batch": bool(max(wph.values()) <= 1.0),
            "warnings_per_running_hour_max": float(max(wph.values()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", nargs="*", default=None, help="held-out batches (names or batch numbers; default all)")
    parser.add_argument("--cache", default=None, help="JSON of finished batches: a rerun skips them (resume)")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. model.process.network.context=window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="process_batches_") as tmp:
        scratch = Path(tmp)
        cfg = configure(scratch, args.overrides)
        files = line.expand_paths(OmegaConf.to_container(cfg.data.line)["path"], repo_root())
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            print(f"{missing} not found: the real series live in ../shared/data (see conf/data/line/press_10s.yaml)")
            return
        t0 = time.perf_counter()
        prepared = line.prepare(cfg, scratch / "data" / "line", scratch / "reports" / "data")
        prepare_s = time.perf_counter() - t0
        data = load_line(scratch / "data" / "line")
        names = data.segment_names
        products = dict(zip(names, data.products or ["all"] * len(names)))
        wanted = [n for n in names if not args.batches or any(b in (n, n.rsplit(" ", 1)[-1]) for b in args.batches)]
        cache = Path(args.cache) if args.cache else None
        per_batch = json.loads(cache.read_text()) if cache and cache.exists() else {}
        for k, name in enumerate(wanted):
            if name in per_batch:
                continue
            print(f"[{k + 1}/{len(wanted)}] held out: {name}", flush=True)
            per_batch[name] = one_batch(cfg, name, scratch)
            if cache:
                cache.write_text(json.dumps(per_batch, indent=1, default=float))
    per_batch = {n: per_batch[n] for n in wanted}
    result = {
        "command": "python benchmarks/process_real.py " + " ".join(
            ([f"--batches {' '.join(args.batches)}"] if args.batches else []) + args.overrides),
        "series": [str(f) for f in files], "overrides": args.overrides, "period_s": data.period_s,
        "batches": {n: {"product": products[n], **prepared["batches"][n]} for n in wanted},
        "hours_all_batches": prepared["hours"], "calendar_hours": prepared["calendar_hours"],
        "by_product": summarise(per_batch, products),
        "shift_flags": {n: [s for s in b["shift"] if s["flagged"]] for n, b in per_batch.items()},
        "targets_met": targets_met(per_batch), "per_batch": per_batch,
        "prepare_s": prepare_s, "train_s_total": float(sum(b["train_s"] for b in per_batch.values())),
        "cpu_count": os.cpu_count(), "loadavg_end": os.getloadavg()}
    name = "process_batches.json" if not args.batches else "process_batches_subset.json"
    out = write_json(repo_root() / "reports" / "bench" / name, result)
    for key, r in result["targets_met"]["deployed_vs_best_baseline"].items():
        print(f"{key}: deployed vs best baseline median {r['median']:+.2%}, worst {r['worst']:+.2%}")
    print(f"warnings per running hour, worst batch: {result['targets_met']['warnings_per_running_hour_max']:.3f}; "
          f"flagged: {[n for n, f in result['shift_flags'].items() if f]} -> {out}")


if __name__ == "__main__":
    main()
