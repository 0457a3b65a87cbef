"""What a person reviewing a run sees, checked in headless Chromium: the MLflow UI (experiments,
the sweep's parent and children, a run's metrics) and reports/index.html (every figure loads).
Screenshots go to a folder for a person to look at."""
from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from browser import Browser

PAGE_WAIT_S = 120  # the MLflow UI is a large single-page app; a busy 2-core machine is slow

EXPAND_CHILDREN = """(() => {
  const link = Array.from(document.querySelectorAll('a')).find(a => a.href.endsWith('/runs/%s'));
  if (!link) return 'no link';
  const cell = link.closest('[role=presentation]') || link.parentElement.parentElement.parentElement;
  const button = cell.querySelector('button');
  if (!button) return 'no expander';
  button.click();
  return 'clicked';
})()"""

SHOW_METRICS = """(() => {
  const heading = Array.from(document.querySelectorAll('h1,h2,h3,h4,span,div'))
    .find(e => e.children.length === 0 && /^Metrics \\(\\d+\\)$/.test(e.textContent.trim()));
  if (heading) heading.scrollIntoView();
  return Boolean(heading);
})()"""

IMAGES = """Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"""


def newest_parent(client: MlflowClient, experiment_id: str):
    runs = client.search_runs([experiment_id], "", order_by=["attributes.start_time DESC"], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parents, f"experiment {experiment_id} has no top-level run"
    return parents[0]


def check_mlflow_ui(base: str, store_uri: str, expected_experiments: list[str], shots: Path) -> dict:
    """The MLflow UI at `base` (serving `store_uri`): experiments, the sweep's children, a run's metrics."""
    client = MlflowClient(store_uri)
    sweep = client.get_experiment_by_name("tablet/sweep")
    assert sweep is not None, f"no tablet/sweep experiment in {store_uri}"
    parent = newest_parent(client, sweep.experiment_id)
    children = client.search_runs([sweep.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                                  max_results=1000)
    assert children, "the sweep's parent run has no children in the store"
    child = sorted(children, key=lambda r: r.info.run_name)[0]
    seen = {}
    with Browser() as browser:
        browser.goto(f"{base}/#/experiments")
        browser.wait_for_text(*expected_experiments, timeout=PAGE_WAIT_S)
        seen["experiments"] = browser.screenshot(shots / "mlflow_experiments.png")

        browser.goto(f"{base}/#/experiments/{sweep.experiment_id}/runs")
        browser.wait_for_text(parent.info.run_name[:12], timeout=PAGE_WAIT_S)
        assert browser.evaluate(EXPAND_CHILDREN % parent.info.run_id) == "clicked"
        browser.wait_for_text(*sorted({c.info.run_name for c in children}), timeout=PAGE_WAIT_S)
        seen["sweep_children"] = browser.screenshot(shots / "mlflow_sweep_children.png")

        browser.goto(f"{base}/#/experiments/{sweep.experiment_id}/runs/{child.info.run_id}")
        metric_names = sorted(child.data.metrics)[:8]
        param_names = sorted(child.data.params)[:8]
        browser.wait_for_text(child.info.run_name, parent.info.run_name[:12], *metric_names, *param_names,
                              timeout=PAGE_WAIT_S)
        browser.evaluate(SHOW_METRICS)  # the metrics table, not only the run's header, in the picture
        seen["run_metrics"] = browser.screenshot(shots / "mlflow_run_metrics.png")
    return seen


def check_registered_models(base: str, store_uri: str, names: list[str], shots: Path) -> dict:
    """The MLflow UI's Models page lists every registered model; each model's page shows its
    versions and, where a version beat its baselines, the champion alias on it."""
    client = MlflowClient(store_uri)
    seen = {}
    with Browser() as browser:
        browser.goto(f"{base}/#/models")
        browser.wait_for_text(*names, timeout=PAGE_WAIT_S)
        seen["models"] = browser.screenshot(shots / "mlflow_models.png")
        for name in names:
            model = client.get_registered_model(name)
            versions = client.search_model_versions(f"name = '{name}'")
            assert versions, f"{name}: no versions"
            expected = [f"Version {max(int(v.version) for v in versions)}", *(model.aliases or {})]
            browser.goto("about:blank")  # a full load of the model's page: the app keeps the last list otherwise
            browser.goto(f"{base}/#/models/{name}")
            browser.wait_for_text(name, *expected, timeout=PAGE_WAIT_S)
            seen[name] = browser.screenshot(shots / f"mlflow_model_{name}.png")
    return seen


def check_report_page(page: Path, shots: Path) -> list[dict]:
    assert page.exists(), f"{page} was not written"
    pngs = sorted(p for pattern in ("*/*.png", "*/*/*.png") for p in page.parent.glob(pattern)  # as collect reads
                  if p.relative_to(page.parent).parts[0] != "review")
    with Browser() as browser:
        browser.goto(page.resolve().as_uri())
        browser.wait_for_text("Tablet manufacturing pipeline", "Identifiers", timeout=60)
        images = browser.evaluate(IMAGES)
        browser.screenshot(shots / "report_page.png", full_page=True)
    broken = [i for i in images if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"figures that did not load: {broken}"
    assert sorted(i["alt"] for i in images) == sorted(p.name for p in pngs), "page and reports/ disagree on figures"
    return images


def _artifact_files(client: MlflowClient, run_id: str, path: str | None = None, depth: int = 3) -> list[str]:
    out = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir and depth > 0:
            out += _artifact_files(client, run_id, item.path, depth - 1)
        elif not item.is_dir:
            out.append(item.path)
    return out


def store_findings(store_uri: str, stages: list[str]) -> list[str]:
    """What a reviewer would miss in the store: a stage without a finished run or metrics, a
    training stage without a figure or an ONNX model (run artifact or MLflow logged model)."""
    client = MlflowClient(store_uri)
    findings = []
    for stage in stages:
        exp = client.get_experiment_by_name(f"tablet/{stage}")
        if exp is None:
            findings.append(f"tablet/{stage}: no experiment")
            continue
        run = newest_parent(client, exp.experiment_id)
        if run.info.status != "FINISHED":
            findings.append(f"tablet/{stage}: newest run {run.info.run_name} is {run.info.status}")
        if not run.data.metrics:
            findings.append(f"tablet/{stage}: newest run {run.info.run_name} has no metrics")
        if stage.startswith("train_"):
            files = _artifact_files(client, run.info.run_id)
            if not any(f.endswith(".png") for f in files):
                findings.append(f"tablet/{stage}: no figure among the run's artifacts {files}")
            models = client.search_logged_models([exp.experiment_id],
                                                 filter_string=f"source_run_id = '{run.info.run_id}'")
            if not any(f.endswith(".onnx") for f in files) and not models:
                findings.append(f"tablet/{stage}: no ONNX model logged (artifact or logged model)")
            if not client.search_model_versions(f"run_id = '{run.info.run_id}'"):
                findings.append(f"tablet/{stage}: its model is not registered (Model Registry)")
    return findings
