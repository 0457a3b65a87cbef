"""The sweep's table, curves and figures, written into one folder (reports/sweep/ for the stage)."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from pipeline.core.io import write_json
from pipeline.sweep.figures import curves_frame, plot_curves, proven
from pipeline.sweep.points import Point, points_table

POINTS_FILE = "points.csv"


def summarise(points: list[Point], sweep_cfg: DictConfig, out_dir: Path, extra: dict | None = None) -> dict:
    """points.csv (every point), curves_<cost>.csv + <cost>.png per swept cost, metrics.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = points_table(points, list(sweep_cfg.costs))
    table.to_csv(out_dir / POINTS_FILE, index=False)
    curves = {str(k): str(v) for k, v in sweep_cfg.curves.items()}
    completed = table[table["status"] == "COMPLETED"] if not table.empty else table
    swept = [c for c in sweep_cfg.costs if not completed.empty and (completed["cost"] == c).any()]
    source = str(out_dir / POINTS_FILE)
    for cost in swept:
        frame = curves_frame(table, cost, curves, source)
        frame.to_csv(out_dir / f"curves_{cost}.csv", index=False)
        plot_curves(frame, cost, out_dir / f"{cost}.png", curves_frame(table, cost, curves, source, only_proven=False))
    completed = int((table["status"] == "COMPLETED").sum()) if not table.empty else 0
    metrics = {
        "points": len(points),
        "completed": completed,
        "proven_optimal": int(proven(table).sum()) if not table.empty else 0,
        "not_proven": completed - (int(proven(table).sum()) if not table.empty else 0),
        "failed": sum(p.status != "COMPLETED" for p in points),
        "figures": len(swept),
        **(extra or {}),
    }
    write_json(out_dir / "metrics.json", metrics)
    return metrics
