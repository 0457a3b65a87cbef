"""Parallel experiments against a team tracking server: three experiments queued on the tiny run
(`dvc exp run --queue`), run two at a time (`dvc exp run --run-all -j 2`: the two workers that
`dvc queue start -j 2` starts, and it returns once all have run), every stage logging through
MLFLOW_TRACKING_URI to `mlflow server` on PostgreSQL with the artifact proxy and logins (basic-auth),
as the user of MLFLOW_TRACKING_USERNAME. Nothing collides, every run is in the store tagged with its
experiment, the models are registered, `dvc exp show` lists them with their key metrics. Slow; needs
PostgreSQL (Debian's package) and the cluster extra (`make cluster`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.queued_experiments import EXPERIMENTS, STAGES_RUN, dvc
from tests.team_server import as_user

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _runs_by_experiment(team: dict) -> dict[str, list]:
    client = MlflowClient(team["url"])
    with as_user(team, "reviewer"):  # every user reads (default permission READ)
        experiments = client.search_experiments()
        runs = client.search_runs([e.experiment_id for e in experiments], "", max_results=5000)
    by_name: dict[str, list] = {}
    for run in runs:
        by_name.setdefault(run.data.tags.get("dvc.exp_name", ""), []).append(run)
    return by_name


def test_queue_ran_every_experiment_without_collisions(team_experiments):
    assert team_experiments["states"] == {name: "Success" for name in EXPERIMENTS}, team_experiments["logs"]
    for name, log in team_experiments["logs"].items():
        assert "database is locked" not in log and "Traceback" not in log, f"{name}:\n{log[-3000:]}"
        ran = {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage '")}
        assert ran == STAGES_RUN[name], f"{name} ran {sorted(ran)}"


def test_every_stage_logged_to_the_server_tagged_with_its_experiment(team_experiments):
    runs = _runs_by_experiment(team_experiments)
    stages = set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    assert set().union(*STAGES_RUN.values()) == stages, "between them the experiments run every stage"
    for name, expected in STAGES_RUN.items():
        mine = runs.get(name, [])
        assert {r.data.tags["stage"] for r in mine} == expected, name
        assert all(r.info.status == "FINISHED" for r in mine), name
        assert {r.data.tags["dvc.exp_baseline_rev"] for r in mine} == {team_experiments["baseline"]}
    sweep = [r for r in runs["fault-rows"] if r.data.tags["stage"] == "sweep"]
    parents = [r for r in sweep if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(sweep) == 1 + 6, "one parent and a child per point of the tiny grid"


def test_two_at_a_time(team_experiments):
    """Runs of two experiments overlap in time (two workers), never three."""
    runs = _runs_by_experiment(team_experiments)
    spans = {name: (min(r.info.start_time for r in runs[name]), max(r.info.end_time for r in runs[name]))
             for name in EXPERIMENTS}
    events = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most == 2, spans


def test_artifacts_go_through_the_server(team_experiments):
    """Artifacts (figures, the ONNX model) are uploaded through the server's proxy into its folder."""
    runs = _runs_by_experiment(team_experiments)
    fault = next(r for r in runs["fault-rows"] if r.data.tags["stage"] == "train_fault")
    assert fault.info.artifact_uri.startswith("mlflow-artifacts:/")
    stored = [p.name for p in Path(team_experiments["artifacts"]).rglob("*") if p.is_file()]
    assert any(n.endswith(".png") for n in stored) and any(n.endswith(".onnx") for n in stored), stored[:20]


def test_the_logged_in_users_registrations_land(team_experiments):
    """The stages ran as user `pipeline`: every model is registered on the server, each version
    from a run of a stage, and any move of the alias is signed by that user."""
    from pipeline.core.promotion import audit_trail

    client = MlflowClient(team_experiments["url"])
    repo = team_experiments["repo"]
    tracking = yaml.safe_load((repo / "params.yaml").read_text())["tracking"]
    with as_user(team_experiments, "reviewer"):
        for name in tracking["registry"]["models"].values():
            versions = client.search_model_versions(f"name = '{name}'")
            assert versions and all(v.tags["stage"].startswith("train_") for v in versions), name
        trail = audit_trail(client, f"{tracking['experiment_prefix']}/{tracking['registry']['audit_experiment']}")
    assert all(p.who == "pipeline" and p.status == "FINISHED" for p in trail), trail


def test_exp_show_lists_them_with_key_metrics(team_experiments):
    repo = team_experiments["repo"]
    shown = json.loads(dvc(repo, {**team_experiments["env"]}, "exp", "show", "--json"))
    experiments = {e["name"]: e for baseline in shown for e in (baseline.get("experiments") or [])}
    assert set(EXPERIMENTS) <= set(experiments), sorted(experiments)
    fault = experiments["fault-rows"]["revs"][0]["data"]
    auc = fault["metrics"]["reports/fault/metrics.json"]["data"]["test"]["dnn"]["auc"]
    objective = fault["metrics"]["reports/optimize/metrics.json"]["data"]["objective"]
    assert 0.5 < auc <= 1.0 and objective != 0
    assert fault["params"]["params.yaml"]["data"]["data"]["fault"]["n_rows"] == 2500
