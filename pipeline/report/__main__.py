"""DVC stage `report`: `python -m pipeline.report` writes reports/index.html and logs it to MLflow."""
from __future__ import annotations

import argparse

from pipeline.core.cli import run_stage
from pipeline.core.config import load_params
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.report.build import build_page


def run(params_file: str | None = None) -> dict:
    cfg = load_params(params_file)
    with stage_run("report", cfg, run_name="report"):
        import mlflow

        path, metrics = build_page(cfg)
        log_metrics(metrics, prefix="report/")
        mlflow.log_artifact(str(path))
    print(f"report: wrote {path} ({metrics['figures']} figures, {metrics['stages_missing']} stages without outputs)")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    run(parser.parse_args().params)


if __name__ == "__main__":
    run_stage("report", main)
