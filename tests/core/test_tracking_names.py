"""pipeline.core.tracking.metric_name: the one place names become legal for MLflow, checked
against MLflow's own validator and a real store."""
from __future__ import annotations

import pytest
from mlflow.utils.validation import _validate_metric_name

from pipeline.core.tracking import legal_names, metric_name

NASTY = [
    "data/quarantined_by_reason/CAS conflicts with the chemical's name",
    "data/quarantined_by_reason/fault label not one of ['0', '1', 'false']",
    "data/quarantined_by_reason/duplicate timestamp (first kept)",
    "data/quarantined_by_reason/humidity_pct outside [0, 100]",
    "a//b", "/leading", "trailing/", "../escape", "./x", "x/./y", "", "µg per m³", "tab\there", "colon: here",
    "x" * 400,
]


@pytest.mark.parametrize("key", NASTY)
def test_every_name_becomes_legal_for_mlflow(key):
    name = metric_name(key)
    _validate_metric_name(name)  # raises MlflowException for an illegal name
    assert 0 < len(name) <= 250


def test_legal_names_keep_plain_names_and_keep_distinct_keys_apart():
    assert metric_name("data/quarantined_by_reason/cas_name_conflict") == "data/quarantined_by_reason/cas_name_conflict"
    assert metric_name("train/loss") == "train/loss" and metric_name("solve.seconds") == "solve.seconds"
    named = legal_names({"a(b)": 1.0, "a[b]": 2.0, "a_b_": 3.0})
    assert len(named) == 3 and sorted(named.values()) == [1.0, 2.0, 3.0]
    long = legal_names({"x" * 300 + "1": 1.0, "x" * 300 + "2": 2.0})
    assert len(long) == 2


def test_a_real_store_takes_them(tmp_path, monkeypatch, new_store):
    import mlflow

    from pipeline.core.tracking import log_metrics, stage_run

    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_store(tmp_path))
    with stage_run("names", None, params={"odd (key)": 1, "fault_labels": {"0.0": 0, "'yes'": 1}}) as run:
        log_metrics({key: 1.0 for key in NASTY})
    logged = mlflow.tracking.MlflowClient().get_run(run.info.run_id)
    assert logged.info.status == "FINISHED" and len(logged.data.metrics) == len(NASTY)
