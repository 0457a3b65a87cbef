"""Every quarantine reason of every loader reaches a real MLflow store through the stage's entry
point (the names used to crash MLflow after the data were judged), and rows add up:
accepted + quarantined = read. A stage that only quarantined succeeds. A trial with `--out` logs
to its own store under --out, never to the pipeline's (MLFLOW_TRACKING_URI here)."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pipeline.contracts.quarantine import BY_LOADER
from pipeline.core.tracking import trial_store
from pipeline.data.__main__ import run
from tests.conftest import ROOT
from tests.data.bad_corpora import CORPORA


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory, new_store) -> str:
    """One real SQLite store for the module."""
    return new_store(tmp_path_factory.mktemp("store"))


@pytest.fixture
def store(store_uri, monkeypatch):
    """The pipeline's store as a user has it set; trials must leave it alone."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)
    return MlflowClient(store_uri)


@pytest.fixture(scope="module")
def trial_out(tmp_path_factory):
    """One --out folder for the module's trials (each kind writes its own files; one store)."""
    return tmp_path_factory.mktemp("trial")


@pytest.mark.parametrize("kind", sorted(CORPORA))
def test_every_reason_is_logged_to_mlflow_and_rows_add_up(kind, tmp_path, store, trial_out):
    overrides, expected = CORPORA[kind](tmp_path)
    metrics = run(kind, overrides=overrides, out=str(trial_out))
    out = trial_out

    codes = {r.code for r in BY_LOADER[kind]}
    assert set(metrics["quarantined_by_reason"]) == codes  # the corpus hits every reason the loader has
    assert metrics["rows_accepted"] + metrics["quarantined_rows"] == metrics["rows_read"]
    table = pd.read_csv(out / "reports" / "data" / f"{kind}_quarantine.csv")
    assert dict(zip(table["source_row"], table["reason"])) == expected
    assert table["reason_text"].notna().all() and (table["reason_text"].str.len() > 10).all()
    assert json.loads((out / "reports" / "data" / f"{kind}_metrics.json").read_text()) == metrics

    assert store.get_experiment_by_name(f"tablet/prepare_{kind}") is None, "a trial ran into the pipeline's store"
    trial = MlflowClient(trial_store(out))
    experiment = trial.get_experiment_by_name(f"tablet/prepare_{kind}")
    (logged,) = trial.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
    assert logged.info.status == "FINISHED"
    for code in codes:
        assert logged.data.metrics[f"data/quarantined_by_reason/{code}"] == metrics["quarantined_by_reason"][code]
    assert logged.data.metrics["data/rows_read"] == metrics["rows_read"]


def test_a_stage_that_only_quarantined_exits_0_from_the_command_line(tmp_path, store, trial_out):
    overrides, expected = CORPORA["inventory"](tmp_path)
    out = trial_out
    done = subprocess.run([sys.executable, "-m", "pipeline.data", "inventory", *overrides, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"see {out}/reports/data/inventory_quarantine.csv" in done.stdout
    assert f"run logged to {trial_store(out)}" in done.stdout
    assert store.get_experiment_by_name("tablet/prepare_inventory") is None, "the trial ran into the pipeline's store"
    assert len(pd.read_csv(out / "reports" / "data" / "inventory_quarantine.csv")) == len(expected)
    assert not list(out.rglob(".partial-*")), "nothing left aside"
