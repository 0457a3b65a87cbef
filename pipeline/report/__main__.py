"""DVC stage `report`: `python -m pipeline.report [overrides]` writes reports/index.html and logs it to MLflow."""
from __future__ import annotations

from pipeline.core.cli import run_stage, stage_parser
from pipeline.core.config import load_params
from pipeline.core.settings import run as run_settings
from pipeline.core.settings import tracking
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.report.build import build_page

# The sections this stage reads, checked as it loads them (the page shows the whole configuration).
SETTINGS = {"paths": run_settings.Paths, "tracking": tracking.Tracking}


def run(params_file: str | None = None, overrides: list[str] | None = None) -> dict:
    cfg = load_params(params_file, SETTINGS, overrides or [])
    with stage_run("report", cfg, run_name="report"):
        import mlflow

        path, metrics = build_page(cfg)
        log_metrics(metrics, prefix="report/")
        mlflow.log_artifact(str(path))
    print(f"report: wrote {path} ({metrics['figures']} figures, {metrics['stages_missing']} stages without outputs)")
    return metrics


def main() -> None:
    args = stage_parser(__doc__.splitlines()[0]).parse_args()
    run(args.params, args.overrides)


if __name__ == "__main__":
    run_stage("report", main)
