"""Read what each multirun job left in its folder into one table of points.

Every job writes `sweep_job.json` (status, overrides; see callback.py) next to the optimiser's
own outputs (metrics.json, schedule.csv, figures) and Hydra's `.hydra/config.yaml`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from hydra.core.override_parser.overrides_parser import OverridesParser

from pipeline.contracts.costs import scale_key, swept_by
from pipeline.core.tracking import flatten
from pipeline.sweep.files import MARKER


@dataclass
class Point:
    job_dir: Path
    job_num: int
    status: str                      # COMPLETED, FAILED, or NO_METRICS when metrics.json is absent
    overrides: list[str]
    params: dict[str, object]        # the overrides as flat key -> value
    scales: dict[str, float]         # every cost scale of the job's resolved config (contracts.costs.scales_of)
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    started: float | None = None     # time.time() of the job's start and end, from its marker
    finished: float | None = None

    @property
    def cost(self) -> str:
        """Which cost this point sweeps ('baseline' when no scale was overridden)."""
        swept = [cost for k in self.params if (cost := swept_by(k))]
        return "+".join(swept) or "baseline"

    @property
    def scale(self) -> float:
        swept = [self.scales[c] for c in self.cost.split("+") if c in self.scales]
        return swept[0] if len(swept) == 1 else float("nan")


def override_params(overrides: list[str]) -> dict[str, object]:
    """`costs={maintenance_scale:0.5}` and `costs.maintenance_scale=0.5` both give
    {'costs.maintenance_scale': 0.5}, so hand-typed and generated sweeps log the same params."""
    out: dict[str, object] = {}
    for ov in OverridesParser.create().parse_overrides(overrides):
        value = ov.value()
        key = ov.key_or_group
        out.update(flatten(value, f"{key}.") if isinstance(value, dict) else {key: value})
    return out


def numeric_leaves(data: dict) -> dict[str, float]:
    """Every number of a metrics file, flat; flags (solve.optimal) become 0/1."""
    return {k: float(v) for k, v in flatten(data).items() if isinstance(v, (int, float))}


def read_point(marker: Path) -> Point:
    job_dir = marker.parent
    info = json.loads(marker.read_text())
    point = Point(job_dir, int(info["job_num"]), info["status"], list(info["overrides"]),
                  override_params(list(info["overrides"])), info["scales"], error=info.get("error", ""),
                  started=info.get("started"), finished=info.get("finished"))
    metrics_file = job_dir / "metrics.json"
    if point.status == "COMPLETED":
        if metrics_file.exists():
            point.metrics = numeric_leaves(json.loads(metrics_file.read_text()))
        else:
            point.status, point.error = "NO_METRICS", f"{metrics_file}: the job wrote no metrics.json"
    return point


def read_points(sweep_dir: Path, since: float | None = None) -> list[Point]:
    """Every job of the sweep (markers newer than `since`, a time.time(), if given), by job number."""
    markers = [m for m in sweep_dir.rglob(MARKER) if since is None or m.stat().st_mtime >= since]
    return sorted((read_point(m) for m in markers), key=lambda p: p.job_num)


def points_table(points: list[Point], cost_order: list[str] | None = None) -> pd.DataFrame:
    """One row per point: job, swept cost and scale, every cost scale, status, every metric."""
    rows = []
    for p in points:
        row = {"job": p.job_num, "cost": p.cost, "scale": p.scale}
        row.update({scale_key(c): s for c, s in sorted(p.scales.items())})
        row.update({"status": p.status, "error": p.error, "overrides": " ".join(p.overrides)})
        row.update(p.metrics)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = {c: i for i, c in enumerate(cost_order or [])}
    table["_order"] = table["cost"].map(lambda c: order.get(c, len(order)))
    return table.sort_values(["_order", "cost", "scale", "job"]).drop(columns="_order").reset_index(drop=True)
