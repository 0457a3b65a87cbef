"""DVC stage entry point: `python -m pipeline.data {fault,line,inventory,prices}`.

Each kind is a sub-package, pipeline/data/<kind>/, exposing `prepare(cfg, out_dir, reports_dir)
-> metrics`; only the kind asked for is imported, so each prepare stage depends on its own
folder. `prepare` generates the data set (or loads and validates the user's file), writes it
under data/<kind>/, writes any quarantined rows to reports/data/<kind>_quarantine.csv and
returns the stage's metrics.
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from pipeline.core.config import load_params
from pipeline.core.io import write_json
from pipeline.core.tracking import log_metrics, stage_run

KINDS = ("fault", "line", "inventory", "prices")


def run(kind: str, params_file: str | None = None) -> dict:
    cfg = load_params(params_file)
    module = importlib.import_module(f"pipeline.data.{kind}")
    out_dir = Path(cfg.paths.data) / kind
    reports_dir = Path(cfg.paths.reports) / "data"
    with stage_run(f"prepare_{kind}", cfg, params={"data": cfg.data[kind], "seed": cfg.seed}):
        metrics = module.prepare(cfg, out_dir, reports_dir)
        log_metrics(metrics, prefix="data/")
    write_json(reports_dir / f"{kind}_metrics.json", metrics)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    args = parser.parse_args()
    metrics = run(args.kind, args.params)
    print(f"prepare_{args.kind}: " + ", ".join(f"{k}={v}" for k, v in metrics.items() if not isinstance(v, dict)))


if __name__ == "__main__":
    main()
