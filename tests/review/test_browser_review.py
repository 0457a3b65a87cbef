"""End to end, in a real browser: the MLflow UI over the store a tiny run made shows every
stage's experiment, the sweep's parent with its children and a run's metrics; the report page
shows every figure. Screenshots: reports/review/ (REVIEW_SCREENSHOTS overrides)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # the helpers beside this file (pytest runs with importlib mode)

from browser import chromium_path  # noqa: E402
from mlflow_ui import mlflow_ui  # noqa: E402
from review_checks import check_mlflow_ui, check_registered_models, check_report_page, store_findings  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None,
                       reason="chromium not installed (Debian: apt-get install -y chromium; CI installs it)"),
]


def screenshot_dir(name: str) -> Path:
    base = Path(os.environ.get("REVIEW_SCREENSHOTS", ROOT / "reports" / "review"))
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def stages(repo: Path) -> list[str]:
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


def test_review_of_the_tiny_pipeline(tiny_repro, tmp_path):
    shots = screenshot_dir("tiny_repro")
    store = f"sqlite:///{tiny_repro / 'mlflow.db'}"
    assert not store_findings(store, stages(tiny_repro))  # every stage's experiment, runs, figures, ONNX
    experiments = [f"tablet/{stage}" for stage in stages(tiny_repro)]  # one experiment per DVC stage
    names = list(yaml.safe_load((tiny_repro / "params.yaml").read_text())["tracking"]["registry"]["models"].values())
    from mlflow.tracking import MlflowClient

    from pipeline.core.registry import promote

    client = MlflowClient(store)
    if not any(client.get_registered_model(n).aliases for n in names):
        # the tiny run's 2-epoch models beat no baseline, so nothing is champion: promote one by hand
        # (README: promote a model) so that the alias is checked in the UI too
        promote(names[0], "1", "browser review: the alias shown in the UI", audit_experiment="tablet/promotions",
                client=client)
    with mlflow_ui(store, tmp_path / "mlflow.log") as base:
        seen = check_mlflow_ui(base, store, experiments, shots)
        seen |= check_registered_models(base, store, names, shots)
    images = check_report_page(tiny_repro / "reports" / "index.html", shots)
    assert images, "the tiny run's report page has no figures"
    assert all(p.stat().st_size > 10_000 for p in seen.values())  # a blank page is a few kB


def test_review_of_the_team_server(team_experiments, tmp_path):
    """The same review against the team tracking server (PostgreSQL, artifact proxy) that the
    parallel queued experiments logged to (tests/repo/test_team_experiments.py)."""
    from tests.team_server import as_user

    url, repo = team_experiments["url"], team_experiments["repo"]
    with as_user(team_experiments, "reviewer"):  # a login (basic-auth): the client and the browser send it
        assert not store_findings(url, stages(repo))
        shots = screenshot_dir("team_server")
        seen = check_mlflow_ui(url, url, [f"tablet/{stage}" for stage in stages(repo)], shots)
        # the queued experiments trained all three models against the server: its registry holds them
        names = list(yaml.safe_load((repo / "params.yaml").read_text())["tracking"]["registry"]["models"].values())
        seen |= check_registered_models(url, url, names, shots)
    assert all(p.stat().st_size > 10_000 for p in seen.values())


def test_review_of_a_parallel_sweep(tmp_path, monkeypatch, new_store):
    """Independent of the other stages: a sweep over a stand-in optimiser and the report page."""
    from pipeline.report.build import build_page
    from pipeline.sweep.__main__ import run_sweep
    from tests.conftest import make_cfg

    store = new_store(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests" / "sweep"))
    monkeypatch.setenv("FAKE_SOLVE_S", "0")
    cfg = make_cfg(tmp_path, [f"sweep.dir={tmp_path / 'multirun'}"])
    run_sweep(cfg, tmp_path / "params.yaml", ROOT, app="fake_optimize_app")
    page, _ = build_page(cfg)

    shots = screenshot_dir("sweep")
    with mlflow_ui(store, tmp_path / "mlflow.log") as base:
        check_mlflow_ui(base, store, ["tablet/sweep"], shots)
    images = check_report_page(page, shots)
    assert len(images) == 3  # one figure per swept cost
