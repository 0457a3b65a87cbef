"""One writer logs a whole sweep: a parent run and one child run per point (tag mlflow.parentRunId).

Called in the launching process (Hydra's on_multirun_end, or pipeline.sweep after a failed
multirun), so parallel jobs never write to the store at once ('database is locked' on SQLite)
and each job's folder becomes exactly one child.
"""
from __future__ import annotations

import time
from pathlib import Path

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from pipeline.contracts.costs import scale_key
from pipeline.core.tracking import (close_abandoned_runs, ensure_experiment, experiment_name, experiment_tags,
                                    legal_names, process_tags, tracking_uri)
from pipeline.sweep.files import MARKER
from pipeline.sweep.points import Point

ARTIFACT_SUFFIXES = (".csv", ".json", ".png", ".log")
METRIC_PREFIX = "optimize/"  # the names a single `python -m pipeline.optimize` run logs


def _log_batch(client: MlflowClient, run_id: str, params: dict, metrics: dict, when_ms: int) -> None:
    params = [Param(k, str(v)[:6000]) for k, v in legal_names(params).items()]
    metrics = [Metric(k, float(v), when_ms, 0) for k, v in legal_names({k.replace(".", "/"): v for k, v in metrics.items()}).items()]
    for i in range(0, max(len(params), len(metrics)), 100):  # MLflow: at most 100 params a batch
        client.log_batch(run_id, metrics=metrics[i : i + 100], params=params[i : i + 100])


def _log_files(client: MlflowClient, run_id: str, folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in ARTIFACT_SUFFIXES:
            client.log_artifact(run_id, str(path))


def point_run_name(point: Point) -> str:
    return f"{point.cost} x{point.scale:g}" if point.cost != "baseline" else f"baseline #{point.job_num}"


def log_child(client: MlflowClient, exp_id: str, parent_id: str, point: Point) -> str:
    marker_ms = int((point.finished or (point.job_dir / MARKER).stat().st_mtime) * 1000)  # the job's end
    start_ms = int(point.started * 1000) if point.started else marker_ms
    run = client.create_run(exp_id, run_name=point_run_name(point), start_time=start_ms, tags={
        "mlflow.parentRunId": parent_id, "stage": "sweep", **experiment_tags(), "sweep.cost": point.cost,
        "sweep.job": str(point.job_num), "sweep.job_dir": str(point.job_dir), **process_tags()})
    rid = run.info.run_id
    params = {"override": " ".join(point.overrides), **point.params,
              **{f"costs.{scale_key(c)}": s for c, s in point.scales.items()}}
    metrics = {f"{METRIC_PREFIX}{k}": v for k, v in point.metrics.items()}
    _log_batch(client, rid, params, metrics, marker_ms)
    _log_files(client, rid, point.job_dir)
    if point.error:
        client.set_tag(rid, "error", point.error[:5000])
    client.set_terminated(rid, "FINISHED" if point.status == "COMPLETED" else "FAILED", end_time=marker_ms)
    return rid


def log_sweep(points: list[Point], cfg: DictConfig, summary_dir: Path | None, started: float,
              parent_params: dict) -> str:
    """Parent + children for `points`; the summary folder (table, figures) as parent artifacts."""
    client = MlflowClient(tracking_uri=tracking_uri(cfg))
    exp_id = ensure_experiment(client, experiment_name("sweep", cfg))
    close_abandoned_runs(client, [exp_id])  # a sweep killed while logging left its parent RUNNING
    name = f"sweep {len(points)} points {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}"
    parent = client.create_run(exp_id, run_name=name, start_time=int(started * 1000),
                               tags={"stage": "sweep", **experiment_tags(), "sweep.points": str(len(points)),
                                     **process_tags()})
    pid = parent.info.run_id
    for point in points:
        log_child(client, exp_id, pid, point)
    failed = sum(p.status != "COMPLETED" for p in points)
    now = time.time()
    _log_batch(client, pid, parent_params,
               {"sweep/points": len(points), "sweep/failed": failed, "sweep/wall_s": now - started},
               int(now * 1000))
    if summary_dir is not None and summary_dir.exists():
        _log_files(client, pid, summary_dir)
    client.set_terminated(pid, "FAILED" if failed else "FINISHED", end_time=int(now * 1000))
    return pid
