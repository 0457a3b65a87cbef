"""Logins on the team tracking server (MLflow's basic-auth app on PostgreSQL; the session's one
server, tests/team_server.py): an anonymous client is refused (401), a user without permission is
refused (403) and the stage commands say so in one line, a permitted user's runs, registrations
and signed promotions land, and a grant (pipeline.core.mlflow_access) lets a second user promote.
Slow; needs PostgreSQL and the cluster extra (`make cluster`)."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from pipeline.core import mlflow_access, registry
from pipeline.core.promotion import audit_trail
from tests.core.test_registry import tiny_onnx
from tests.team_server import as_user, credentials

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PREFIX = "security-check"                    # apart from the pipeline's tablet/* experiments and models
MODEL, AUDIT = f"{PREFIX}-model", f"{PREFIX}/promotions"


@pytest.fixture(scope="module")
def landed(team_server, tmp_path_factory):
    """As user `pipeline`: a run in its own experiment and a tiny model registered and promoted."""
    url = team_server["url"]
    data = tmp_path_factory.mktemp("data") / "data.csv"
    data.write_text("x\n1\n")
    before = mlflow.get_tracking_uri()
    with as_user(team_server, "pipeline"):
        mlflow.set_tracking_uri(url)
        experiment = mlflow.set_experiment(f"{PREFIX}/runs")
        with mlflow.start_run() as run:
            mlflow.log_metric("auc", 0.8)
            info = mlflow.onnx.log_model(tiny_onnx(1.0), name="model", pip_requirements=["onnx"],
                                         input_example=np.ones((1, 2), np.float32))
            reg = registry.register(info.model_uri, MODEL, registry.Verdict(True, "auc 0.8 > 0.7"), stage="train_check",
                                    metrics={"auc": 0.8}, datasets={"train": data}, about="access test",
                                    audit_experiment=AUDIT)
        mlflow.set_tracking_uri(before)
    return {"run_id": run.info.run_id, "experiment_id": experiment.experiment_id, "registration": reg}


def test_anonymous_client_is_refused(team_server):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{team_server['url']}/api/2.0/mlflow/experiments/search?max_results=1", timeout=30)
    assert caught.value.code == 401
    with as_user(team_server, None), pytest.raises(MlflowException) as refused:
        MlflowClient(team_server["url"]).search_experiments()
    assert refused.value.error_code == "UNAUTHENTICATED"


def test_a_permitted_users_runs_registrations_and_promotions_land(team_server, landed):
    client = MlflowClient(team_server["url"])
    with as_user(team_server, "reviewer"):   # everyone logged in reads (default permission READ)
        assert client.get_run(landed["run_id"]).data.metrics["auc"] == 0.8
        assert str(client.get_model_version_by_alias(MODEL, "champion").version) == landed["registration"].version
        (promotion,) = audit_trail(client, AUDIT)
    assert promotion.who == "pipeline" and promotion.by == "train_check" and promotion.status == "FINISHED"


def test_a_user_without_permission_is_refused(team_server, landed):
    client = MlflowClient(team_server["url"])
    with as_user(team_server, "reviewer"):
        for write in (lambda: client.create_run(landed["experiment_id"]),
                      lambda: client.log_metric(landed["run_id"], "auc", 1.0),
                      lambda: client.set_registered_model_alias(MODEL, "champion", "1"),
                      lambda: registry.promote(MODEL, "1", "I want it", audit_experiment=AUDIT, client=client)):
            with pytest.raises(MlflowException) as refused:
                write()
            assert refused.value.error_code == "PERMISSION_DENIED" and refused.value.get_http_status_code() == 403
        assert len(audit_trail(client, AUDIT)) == 1  # nothing added by the refused user


@pytest.mark.parametrize("user, says", [
    (None, "refused the request: not authenticated (set MLFLOW_TRACKING_USERNAME"),
    ("reviewer", "refused user 'reviewer': no permission for this"),
])
def test_the_commands_say_a_refusal_in_one_line(team_server, landed, user, says, tmp_path):
    params = OmegaConf.load(ROOT / "params.yaml")
    params.tracking.experiment_prefix = PREFIX  # its audit experiment: security-check/promotions
    OmegaConf.save(params, tmp_path / "params.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update({"MLFLOW_TRACKING_URI": team_server["url"], **(credentials(team_server, user) if user else {})})
    result = subprocess.run([sys.executable, "-m", "pipeline.core.registry", "--params", str(tmp_path / "params.yaml"),
                             "promote", MODEL, "1", "--reason", "test"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[0].startswith("registry: error: the MLflow tracking server ")
    assert says in result.stderr


def test_a_grant_lets_a_second_user_promote_signed_with_their_name(team_server, landed):
    cfg = OmegaConf.create({"tracking": {"experiment_prefix": PREFIX, "registry": {"models": {"check": MODEL}}}})
    client = MlflowClient(team_server["url"])
    with as_user(team_server, "admin"):
        done = mlflow_access.grant(team_server["url"], "reviewer", "EDIT", cfg)
    assert set(done["experiments"]) >= {f"{PREFIX}/runs", AUDIT} and done["models"] == [MODEL]
    try:
        with as_user(team_server, "reviewer"):
            registry.promote(MODEL, "1", "QA sign-off CC-7", audit_experiment=AUDIT, client=client)
            newest = audit_trail(client, AUDIT)[0]
        assert (newest.who, newest.by, newest.why, newest.status) == ("reviewer", "hand", "QA sign-off CC-7", "FINISHED")
    finally:
        with as_user(team_server, "admin"):
            mlflow_access.grant(team_server["url"], "reviewer", "READ", cfg)  # back to what the other tests expect


def test_a_password_change_takes_effect_at_once(team_server):
    """The admin rotates a password (python -m pipeline.core.mlflow_access password <user>): the old
    one is refused (401) from the next request, the new one accepted."""
    url, old = team_server["url"], team_server["passwords"]["reviewer"]
    with as_user(team_server, "admin"):
        mlflow_access.set_password(url, "reviewer", old + "-rotated")
    try:
        with as_user(team_server, "reviewer"), pytest.raises(MlflowException) as refused:
            MlflowClient(url).search_experiments()
        assert refused.value.error_code == "UNAUTHENTICATED"
        team_server["passwords"]["reviewer"] = old + "-rotated"
        with as_user(team_server, "reviewer"):
            MlflowClient(url).search_experiments()
    finally:
        with as_user(team_server, "admin"):
            mlflow_access.set_password(url, "reviewer", old)
        team_server["passwords"]["reviewer"] = old


def test_an_admin_owned_audit_experiment_takes_runs_from_edit_but_no_deletions(team_server):
    """`mlflow_access init` (as admin) makes the admin the audit experiment's owner; a promoter with
    EDIT (`grant`) adds promotion runs but cannot delete one: the trail is append-only for them."""
    cfg = OmegaConf.create({"tracking": {"experiment_prefix": "security-init",
                                         "registry": {"audit_experiment": "promotions", "models": {}}}})
    url, client = team_server["url"], MlflowClient(team_server["url"])
    with as_user(team_server, "admin"):
        experiment_id = mlflow_access.create_audit_experiment(url, cfg)
    with as_user(team_server, "pipeline"), pytest.raises(MlflowException) as before_grant:
        client.create_run(experiment_id)
    assert before_grant.value.error_code == "PERMISSION_DENIED"
    with as_user(team_server, "admin"):
        assert mlflow_access.grant(url, "pipeline", "EDIT", cfg)["experiments"] == ["security-init/promotions"]
    with as_user(team_server, "pipeline"):
        run = client.create_run(experiment_id)
        client.log_param(run.info.run_id, "why", "a promotion")
        with pytest.raises(MlflowException) as deleting:
            client.delete_run(run.info.run_id)
    assert deleting.value.error_code == "PERMISSION_DENIED"
    with as_user(team_server, "reviewer"):
        assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"
