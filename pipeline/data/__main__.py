"""DVC stage entry point: `python -m pipeline.data {fault,line,inventory,prices} [overrides] [--out DIR]`.

Each kind is a sub-package, pipeline/data/<kind>/, exposing `prepare(cfg, out_dir, reports_dir)
-> metrics` and the SETTINGS it reads (checked as the config loads); only the kind asked for is
imported, so each prepare stage depends on its own folder. `prepare` generates the data set (or loads and validates the user's file), writes it
under data/<kind>/, writes any quarantined rows to reports/data/<kind>_quarantine.csv and
returns the stage's metrics.

Without overrides it runs on params.yaml, as `dvc repro` does. With Hydra overrides it runs on
params.yaml with them applied (pipeline/core/overrides.py; params.yaml itself untouched), so one
command tries any loader on your file:
    python -m pipeline.data prices data/prices=csv data.prices.path=/abs/prices.csv --out /tmp/try
`--out DIR` writes DIR/data/<kind>/ and DIR/reports/data/ instead of the repository's folders, and
logs the run to DIR/mlflow.db (pipeline/core/tracking.trial_store), never to the pipeline's store.
Everything is written aside and moved in at the end (pipeline/core/staging.py); a failed run
moves in only its quarantine file, which says why.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core.cli import run_stage, stage_parser
from pipeline.core.config import load_params
from pipeline.core.io import write_json
from pipeline.core.staging import staged
from pipeline.core.tracking import log_metrics, stage_run, trial_store

KINDS = ("fault", "line", "inventory", "prices")


def config(kind: str, params_file: str | None = None, overrides: list[str] | None = None,
           out: str | None = None) -> DictConfig:
    """params.yaml with `overrides`, the kind's settings checked; paths under `out` when given."""
    cfg = load_params(params_file, importlib.import_module(f"pipeline.data.{kind}").SETTINGS, overrides or [])
    if out:
        cfg = OmegaConf.merge(cfg, {"paths": {"data": str(Path(out) / "data"), "reports": str(Path(out) / "reports")}})
    return cfg


def run(kind: str, params_file: str | None = None, overrides: list[str] | None = None, out: str | None = None) -> dict:
    cfg = config(kind, params_file, overrides, out)
    module = importlib.import_module(f"pipeline.data.{kind}")
    stage = f"prepare_{kind}"
    quarantine_file = f"data/{kind}_quarantine.csv"
    with staged(cfg, stage, ("data", "reports"), replace={"data": (kind,)},
                on_failure={"reports": (quarantine_file,)}) as work:
        out_dir = Path(work.paths.data) / kind
        reports_dir = Path(work.paths.reports) / "data"
        with stage_run(stage, cfg, params={"data": cfg.data[kind], "seed": cfg.seed},
                       store=trial_store(out) if out else None):
            metrics = module.prepare(work, out_dir, reports_dir)
            log_metrics(metrics, prefix="data/")
            write_json(reports_dir / f"{kind}_metrics.json", metrics)
    return metrics


def summary_line(kind: str, metrics: dict, reports: str) -> str:
    line = f"prepare_{kind}: " + ", ".join(f"{k}={v}" for k, v in metrics.items() if not isinstance(v, dict))
    if metrics.get("quarantined_rows"):
        line += f"\nprepare_{kind}: quarantined {metrics['quarantined_by_reason']}: see {reports}/data/{kind}_quarantine.csv"
    return line


def trial_line(kind: str, out: str) -> str:
    """Where a trial's MLflow run went (its own store, not the pipeline's)."""
    return f"prepare_{kind}: run logged to {trial_store(out)} (mlflow ui --backend-store-uri {trial_store(out)})"


def main() -> None:
    parser = stage_parser(__doc__.splitlines()[0], overrides=False)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (e.g. data/prices=csv data.prices.path=...)")
    parser.add_argument("--out", default=None, help="write data/, reports/ and the MLflow run (mlflow.db) under this "
                                                    "folder instead")
    args = parser.parse_intermixed_args()  # overrides before or after --out
    metrics = run(args.kind, args.params, args.overrides, args.out)
    print(summary_line(args.kind, metrics, str(Path(args.out) / "reports") if args.out else "reports"))
    if args.out:
        print(trial_line(args.kind, args.out))


if __name__ == "__main__":
    import sys

    run_stage(f"prepare_{sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in KINDS else 'data'}", main)
