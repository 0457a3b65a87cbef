"""Reading job folders: both override spellings give the same params; the swept cost is named."""
from __future__ import annotations

import json
import math

import pytest

from pipeline.sweep.points import override_params, read_points


@pytest.mark.parametrize("override", ["costs={maintenance_scale:0.5}", "costs.maintenance_scale=0.5"])
def test_both_spellings_give_the_same_param(override):
    assert override_params([override]) == {"costs.maintenance_scale": 0.5}


def _job(root, num, overrides, status="COMPLETED", metrics=None, scales=(1.0, 1.0, 1.0)):
    job = root / str(num)
    job.mkdir(parents=True)
    m, t, h = scales
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    (job / "sweep_job.json").write_text(json.dumps({"job_num": num, "status": status, "overrides": overrides,
                                                    "scales": {"maintenance": m, "temperature": t, "humidity": h}}))


def test_points_name_their_cost_and_flag_missing_metrics(tmp_path):
    _job(tmp_path, 0, ["costs={humidity_scale:1.5}"], metrics={"profit": 1.0, "solve": {"nodes": 3}},
         scales=(1.0, 1.0, 1.5))
    _job(tmp_path, 1, ["costs.maintenance_scale=0.5"], metrics=None, scales=(0.5, 1.0, 1.0))
    _job(tmp_path, 2, [], metrics={"profit": 2.0})

    first, second, third = read_points(tmp_path)

    assert (first.cost, first.scale, first.metrics) == ("humidity", 1.5, {"profit": 1.0, "solve.nodes": 3.0})
    assert second.status == "NO_METRICS" and "metrics.json" in second.error
    assert third.cost == "baseline" and math.isnan(third.scale)
