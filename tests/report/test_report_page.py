"""The report page: self-contained, every figure embedded, missing stages said, not fatal."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pipeline.report.build import build_page  # noqa: E402
from pipeline.report.collect import figure_caption  # noqa: E402


def _figure(path: Path, description: str | None) -> None:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Description": description} if description else None)
    plt.close(fig)


def test_page_embeds_figures_tables_and_says_what_is_missing(tiny_cfg):
    reports = Path(tiny_cfg.paths.reports)
    (reports / "fault").mkdir(parents=True)
    (reports / "fault" / "metrics.json").write_text(json.dumps({"test": {"auc": 0.8125}}))
    _figure(reports / "fault" / "roc.png", "ROC curve of the fault network on the test split.")
    _figure(reports / "sweep" / "maintenance.png", None)
    (reports / "sweep" / "points.csv").write_text("cost,scale,profit\nmaintenance,0.5,10\nmaintenance,1.0,9\n")
    (reports / "optimize").mkdir()
    (reports / "optimize" / "broken.json").write_text("{not json")

    path, metrics = build_page(tiny_cfg)

    html = path.read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2 == metrics["figures"]
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "ROC curve of the fault network on the test split." in html
    assert "Figure &#x27;maintenance&#x27; from sweep" in html  # fallback sentence, escaped
    assert "0.8125" in html and "maintenance" in html
    assert "broken.json: unreadable metrics" in html
    assert "reports/process/ does not exist" in html
    assert metrics["stages_missing"] == 4 and metrics["unreadable_files"] == 1
    assert not re.search(r'src="(?!data:)', html), "page must not load anything from outside"
    links = re.findall(r'href="([^"#][^"]*)"', html)  # besides the page's own anchors: registered versions
    assert all(link.startswith("http://127.0.0.1:5000/#/models/") for link in links), links
    assert "tablet/train_fault" in html  # MLflow section lists the stage experiments
    assert "seed: 42" in html  # the configuration is on the page


def test_page_with_no_outputs_at_all(tiny_cfg):
    path, metrics = build_page(tiny_cfg)
    assert metrics["stages_present"] == 0 and metrics["figures"] == 0
    assert path.read_text().count("has not run") == 7


def test_caption_read_from_png_metadata(tmp_path):
    _figure(tmp_path / "a.png", "Profit against the maintenance-cost scale.")
    assert figure_caption(tmp_path / "a.png", "sweep") == "Profit against the maintenance-cost scale."


def test_unreachable_tracking_server_is_reported_not_fatal(tiny_cfg, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:secret@127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    path, _ = build_page(tiny_cfg)
    html = path.read_text()
    assert "could not be read" in html
    assert "secret" not in html


@pytest.mark.parametrize("uri,expected", [("http://u:p@host:5000/x", "http://host:5000/x"),
                                          ("sqlite:///a/b.db", "sqlite:///a/b.db")])
def test_public_uri_hides_credentials(uri, expected):
    from pipeline.report.identifiers import public_uri

    assert public_uri(uri) == expected


def test_figures_one_folder_down_are_shown_with_their_caption(tiny_cfg):
    """reports/inventory/figures/*.png (one per chemical) reach the page like top-level figures."""
    reports = Path(tiny_cfg.paths.reports)
    _figure(reports / "inventory" / "figures" / "forecast_ethanol.png", "Daily use of Ethanol on the test part.")
    path, metrics = build_page(tiny_cfg)
    assert metrics["figures"] == 1 and "Daily use of Ethanol on the test part." in path.read_text()


def test_page_shows_committed_and_reproduced_figures_where_they_differ(tmp_path):
    """A retrain moved the AUC: the page shows this run's figure and git HEAD's; timings and
    unchanged figures are not flagged; a committed run shows no such table."""
    import subprocess

    from pipeline.report.collect import collect
    from pipeline.report.page import _section
    from pipeline.report.sections import SECTIONS

    folder = tmp_path / "reports" / "fault"
    folder.mkdir(parents=True)
    metrics = folder / "metrics.json"
    committed = {"test": {"dnn": {"auc": 0.7757, "brier": 0.129}}, "training": {"seconds": 12.5}, "run_id": "a1"}
    metrics.write_text(json.dumps(committed))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run"]):
        subprocess.run(cmd, cwd=tmp_path, check=True)
    section = next(s for s in SECTIONS if s.folder == "fault")
    assert not collect(folder, "train_fault", root=tmp_path).moved  # as committed

    metrics.write_text(json.dumps({"test": {"dnn": {"auc": 0.7769, "brier": 0.129}}, "training": {"seconds": 20.0},
                                   "run_id": "b2"}))
    out = collect(folder, "train_fault", root=tmp_path)
    assert out.moved == {"metrics.json": {"test.dnn.auc": 0.7757}}
    html = _section(section, out)
    assert "differ from the committed figures" in html
    assert "<td>test.dnn.auc</td><td>0.7769</td><td>0.7757</td>" in html


def test_the_process_section_names_the_batches_with_a_level_shift(tiny_cfg):
    import pandas as pd

    from pipeline.process.shifts import SHIFT_COLUMNS

    reports = Path(tiny_cfg.paths.reports)
    (reports / "process").mkdir(parents=True)
    row = {"batch": "code 5, campaign 33, batch 117", "product": "5", "part": "test", "target": "ejection",
           "reference": "code 5, campaign 79, batch 364", "running_steps": 6850, "median": 59.0,
           "reference_median": 177.0, "level_sigma": -8.8, "spread_ratio": 0.9, "level_shift": True,
           "spread_shift": False, "flagged": True}
    quiet = {**row, "batch": "code 5, campaign 79, batch 364", "level_sigma": 0.4, "level_shift": False, "flagged": False}
    pd.DataFrame([row, quiet], columns=SHIFT_COLUMNS).to_csv(reports / "process" / "shifts.csv", index=False)
    path, _ = build_page(tiny_cfg)
    html = path.read_text()
    section = html[html.index('id="process"'):html.index("</section>", html.index('id="process"'))]
    assert "Level shifts" in section and "1 of 2 batches flagged" in section
    assert "code 5, campaign 33, batch 117" in section and "-8.8" in section
