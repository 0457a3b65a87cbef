"""Signed promotions (pipeline/core/promotion.py) and registry names (pipeline/core/registry_names.py)
against a throwaway SQLite store: a promotion without a reason is refused; one with a reason is in
the audit trail (who, when, why, evidence) and on the report page; a refused move leaves a FAILED
record and the alias where it was; hostile names and aliases are one line before any query."""
from __future__ import annotations

import re

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.tracking import MlflowClient

from pipeline.core import registry, registry_names
from pipeline.core.cli import expected_errors
from pipeline.core.promotion import audit_trail
from tests.core.test_registry import AUDIT, train_and_register


@pytest.fixture
def store(tmp_path, monkeypatch, new_store):
    uri = new_store(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("registry-test")
    return tmp_path


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`python -m pipeline.core.registry <args>` in this process, as its __main__ runs it."""
    monkeypatch.setattr("sys.argv", ["registry", *args])
    code = 0
    try:
        with expected_errors("registry", (registry.ModelNotFound,)):
            registry.main()
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_promotion_without_a_reason_is_refused(store, monkeypatch, capsys):
    train_and_register(store, 1.0, beats=False)
    code, _, err = cli(monkeypatch, capsys, "promote", "tiny-model", "1")
    assert code == 2 and "the following arguments are required: --reason" in err
    code, _, err = cli(monkeypatch, capsys, "promote", "tiny-model", "1", "--reason", "   ")
    assert code == 1 and "a promotion needs a reason" in err and "Traceback" not in err
    assert MlflowClient().get_registered_model("tiny-model").aliases == {}  # nothing moved
    assert audit_trail(MlflowClient(), AUDIT) == []                          # nothing recorded


def test_promotions_are_signed_with_who_when_why_and_evidence(store, monkeypatch, capsys):
    first = train_and_register(store, 1.0, beats=True)           # the stage promotes version 1 itself
    train_and_register(store, 2.0, beats=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "qa.lead")
    code, out, err = cli(monkeypatch, capsys, "promote", "tiny-model", "2", "--reason", "CC-1042: approved after line trial")
    assert code == 0, err
    assert "alias 'champion' -> version 2 (was: 1)" in out
    newest, oldest = audit_trail(MlflowClient(), AUDIT, ["tiny-model"])
    assert (oldest.version, oldest.by, oldest.previous, oldest.status) == ("1", "train_tiny", "none", "FINISHED")
    assert oldest.audit_run == first.audit_run and "beats its baselines: score 1" in oldest.why
    assert (newest.version, newest.previous, newest.who, newest.by) == ("2", "1", "qa.lead", "hand")
    assert newest.why == "CC-1042: approved after line trial" and re.match(r"\d{4}-\d\d-\d\dT.*\+00:00", newest.when)
    ev = newest.evidence
    assert ev["metric.score"] == "2" and len(ev["dataset.train.md5"]) == 32 and ev["git_commit"]
    assert ev["beats_baselines"] == "false"  # promoted by hand against the verdict: the record says so
    tags = MlflowClient().get_model_version("tiny-model", "2").tags
    assert tags["promotion.champion.by"] == "qa.lead (hand)" and tags["promotion.champion.audit_run"] == newest.audit_run
    code, out, _ = cli(monkeypatch, capsys, "audit", "tiny-model")
    assert code == 0 and out.splitlines()[0].endswith("[FINISHED]: CC-1042: approved after line trial")
    # the record is the run's params: MLflow refuses to change a logged param
    with pytest.raises(MlflowException):
        MlflowClient().log_param(newest.audit_run, "why", "nothing happened")


def test_a_refused_move_is_recorded_as_failed_and_the_alias_stays(store):
    train_and_register(store, 1.0, beats=True)
    train_and_register(store, 2.0, beats=False)

    class Refusing(MlflowClient):
        def set_registered_model_alias(self, *args, **kwargs):
            raise MlflowException("Permission denied", error_code=databricks_pb2.PERMISSION_DENIED)

    with pytest.raises(MlflowException, match="Permission denied"):
        registry.promote("tiny-model", "2", "try", audit_experiment=AUDIT, client=Refusing())
    assert str(MlflowClient().get_model_version_by_alias("tiny-model", "champion").version) == "1"
    attempt = audit_trail(MlflowClient(), AUDIT)[0]
    assert (attempt.version, attempt.status) == ("2", "FAILED")
    assert "Permission denied" in MlflowClient().get_run(attempt.audit_run).data.tags["pipeline.audit.error"]


class NoQueries:
    """A client that fails the test if anything asks the registry."""

    def __getattr__(self, name):
        raise AssertionError(f"queried the registry ({name}) before checking the name")


@pytest.mark.parametrize("uri, says", [
    ("models:/tiny'model@champion", "quotes, backslashes"),
    ("models:/tiny-model@../../x", "Invalid alias name"),
    ("models:/../../x/1", "cannot contain '/'"),
    ("models:/tiny-model/abc", "a whole number >= 1"),
    ("runs:/abc/model", "expected models:/"),
])
def test_hostile_model_uris_are_refused_before_any_query(uri, says):
    with pytest.raises(registry_names.RegistryNameError, match=re.escape(says)):
        registry.fetch(uri, client=NoQueries())


def test_hostile_names_and_aliases_in_the_cli_are_one_line(store, monkeypatch, capsys):
    for args, says in [(("promote", "tiny-model", "1", "--alias", "../../x", "--reason", "r"), "Invalid alias name"),
                       (("promote", "tiny'model", "1", "--reason", "r"), "quotes, backslashes"),
                       (("promote", "tiny-model", "1", "--alias", "latest", "--reason", "r"), "reserved"),
                       (("promote", "tiny-model", "v", "--reason", "r"), "a whole number"),
                       (("audit", 'x"y'), "quotes, backslashes")]:
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 1 and says in err and "Traceback" not in err, (args, err)
        assert err.splitlines()[0].startswith("registry: error: ")


def test_report_page_shows_the_audit_trail_per_model(store, tiny_cfg, monkeypatch):
    from omegaconf import OmegaConf

    from pipeline.report.build import build_page

    cfg = OmegaConf.create(OmegaConf.to_container(tiny_cfg, resolve=True))
    cfg.tracking.registry.models = {"fault": "tiny-model", "process": "other-model"}
    train_and_register(store, 1.0, beats=True)
    train_and_register(store, 2.0, beats=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "qa.lead")
    registry.promote("tiny-model", "2", "CC-1042 <approved>", audit_experiment=AUDIT)
    html = build_page(cfg)[0].read_text()
    section = html[html.index('<section id="promotions">'):]
    section = section[:section.index("</section>")]
    assert "<h3>tiny-model</h3>" in section and "<h3>other-model</h3>" in section
    assert "CC-1042 &lt;approved&gt;" in section and "qa.lead" in section  # escaped, not markup
    assert "stage train_tiny: beats its baselines: score 1" in section
    assert section.count("<tr><td>") == 2 and "No promotion recorded" in section  # other-model has none


@pytest.mark.parametrize("code, user, says", [
    ("UNAUTHENTICATED", None, "not authenticated (set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
    ("UNAUTHENTICATED", "alice", "refused user 'alice': wrong password"),
    ("PERMISSION_DENIED", "alice", "refused user 'alice': no permission for this"),
])
def test_a_tracking_server_refusal_is_one_line(monkeypatch, capsys, code, user, says):
    """What a stage prints when a server with logins answers 401 / 403 (tests/repo/test_team_access.py
    shows it against the real server)."""
    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)
    if user:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    else:
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    with pytest.raises(SystemExit) as stopped, expected_errors("train_fault"):
        raise MlflowException("API request to endpoint /api/2.0/mlflow/runs/create failed",
                              error_code=getattr(databricks_pb2, code))
    err = capsys.readouterr().err
    assert stopped.value.code == 1 and err.startswith("train_fault: error: the MLflow tracking server ") and says in err
