"""Render the collected outputs as one self-contained HTML page (inline CSS, images as data URIs)."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import pandas as pd

from pipeline.report.collect import StageOutputs
from pipeline.report.identifiers import ModelVersionLink, RunLink
from pipeline.report.level_shifts import level_shift_block
from pipeline.report.sections import Section

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ccc;padding-top:1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5rem;max-width:46rem;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee} figcaption{font-size:.85rem}
.missing{color:#a33} .moved{color:#8a5a00} .note{color:#555;font-size:.9rem} pre{background:#f7f7f7;padding:.5rem;overflow:auto}
"""


@dataclass
class PageInputs:
    title: str
    sections: list[tuple[Section, StageOutputs]]
    identity: dict[str, str]
    lock_hashes: dict[str, str]
    tracking_uri: str
    runs: list[RunLink]
    mlflow_error: str | None
    params_yaml: str
    models: list[ModelVersionLink] = None
    models_error: str | None = None
    mlflow_ui: str = ""   # where the links to registered versions point
    audit_html: str = ""  # the promotions' audit trail (pipeline/report/audit.py)
    decisions_html: str = ""  # what to act on, first (pipeline/report/decisions.py)


def _kv_table(rows: dict, headers: tuple[str, str]) -> str:
    body = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(_fmt(v))}</td></tr>" for k, v in rows.items())
    return f"<table><tr><th>{escape(headers[0])}</th><th>{escape(headers[1])}</th></tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float) and value != value:  # NaN: an empty cell, as in the CSV
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _frame_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><tr>{head}</tr>{rows}</table>"


KEY_METRICS = 20  # metrics shown open per file; the rest (and lists) behind "all metrics"


def _moved_table(flat: dict, moved: dict) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(_fmt(flat[k]))}</td><td>{escape(_fmt(v))}</td></tr>"
                   for k, v in moved.items())
    return (f'<p class="moved">{len(moved)} result(s) differ from the committed figures (git HEAD): a retrain, '
            "or results not committed yet. <code>dvc pull</code> brings the committed models; how far a retrain "
            "on another machine moves each figure: docs/scaleout.md.</p>"
            f"<table><tr><th>metric</th><th>this run</th><th>committed</th></tr>{rows}</table>")


def _metrics_block(folder: str, name: str, flat: dict, moved: dict | None = None) -> str:
    scalars = {k: v for k, v in flat.items() if not isinstance(v, (list, dict))}
    key = dict(sorted(scalars.items(), key=lambda kv: kv[0].count("."))[:KEY_METRICS])
    html = (f"<h3>{escape(name)}</h3><p>Key metrics the stage wrote to reports/{escape(folder)}/{escape(name)} "
            f"({len(key)} of {len(flat)} shown).</p>{_kv_table(key, ('metric', 'value'))}")
    if moved:
        html += _moved_table(flat, moved)
    if len(key) < len(flat):
        html += f"<details><summary>all {len(flat)} metrics</summary>{_kv_table(flat, ('metric', 'value'))}</details>"
    return html


def _section(section: Section, out: StageOutputs) -> str:
    parts = [f'<section id="{escape(section.folder)}"><h2>{escape(section.title)}</h2>',
             f"<p>{escape(section.sentence)}</p>"]
    if not out.exists:
        parts.append(f'<p class="missing">No outputs yet: reports/{escape(section.folder)}/ does not exist '
                     f"(stage {escape(section.stage)} has not run).</p></section>")
        return "".join(parts)
    if not (out.metrics or out.figures or out.tables):
        parts.append(f'<p class="missing">reports/{escape(section.folder)}/ holds no metrics, figures or tables.</p>')
    for fig in out.figures:
        parts.append(f'<figure><img src="{fig.data_uri}" alt="{escape(fig.path.name)}">'
                     f"<figcaption>{escape(fig.caption)} <span class=note>({escape(fig.path.name)})</span>"
                     "</figcaption></figure>")
    if section.folder == "process":  # issue 23: flagged batches by name
        parts.append(level_shift_block(out.folder))
    for name, flat in out.metrics.items():
        parts.append(_metrics_block(section.folder, name, flat, out.moved.get(name)))
    for table in out.tables:
        shown = len(table.frame)
        more = f", first {shown} shown" if shown < table.total_rows else ""
        parts.append(f"<details><summary>Table reports/{escape(section.folder)}/{escape(table.path.name)} "
                     f"({table.total_rows} rows, {len(table.frame.columns)} columns{more})</summary>"
                     f"{_frame_table(table.frame)}</details>")
    for problem in out.problems:
        parts.append(f'<p class="missing">{escape(problem)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _runs_table(runs: list[RunLink]) -> str:
    head = "<tr><th>experiment</th><th>latest run</th><th>run id</th><th>status</th><th>child runs</th></tr>"
    rows = "".join(
        f"<tr><td>{escape(r.experiment)}</td><td>{escape(r.run_name or '(no run yet)')}</td>"
        f"<td>{escape(r.run_id or '')}</td><td>{escape(r.status or '')}</td><td>{r.children}</td></tr>"
        for r in runs)
    return f"<table>{head}{rows}</table>"


def _models_table(models: list[ModelVersionLink], ui: str) -> str:
    head = ("<tr><th>registered model</th><th>version</th><th>alias</th><th>beats its baselines</th>"
            "<th>verdict</th><th>MLflow UI</th></tr>")
    rows = "".join(
        f"<tr><td>{escape(m.model)}</td><td>{escape(m.version)}</td><td>{escape(m.aliases)}</td>"
        f"<td>{escape(m.beats_baselines)}</td><td>{escape(m.verdict)}</td>"
        f'<td><a href="{escape(ui)}/#/models/{escape(m.model)}/versions/{escape(m.version)}">'
        f"models:/{escape(m.model)}/{escape(m.version)}</a></td></tr>" for m in models)
    return f"<table>{head}{rows}</table>"


def render(page: PageInputs) -> str:
    links = ([("decisions", "Decisions")] if page.decisions_html else []) + [(s.folder, s.title) for s, _ in page.sections]
    toc = " · ".join(f'<a href="#{escape(anchor)}">{escape(title)}</a>' for anchor, title in links)
    body = [f"<h1>{escape(page.title)}</h1>",
            "<p>What the last <code>dvc repro</code> left under reports/: first what to act on, then stage "
            "by stage, with the identifiers that tie it to its code, data and MLflow runs.</p>", f"<nav>{toc}</nav>",
            page.decisions_html]
    body += [_section(s, o) for s, o in page.sections]
    body.append('<section id="identifiers"><h2>Identifiers</h2>'
                "<p>The code version, DVC's record of each stage's outputs and the MLflow runs behind this page.</p>")
    body.append(_kv_table(page.identity, ("what", "value")))
    if page.lock_hashes:
        body.append("<h3>dvc.lock outputs (md5)</h3>" + _kv_table(page.lock_hashes, ("stage", "outputs")))
    else:
        body.append('<p class="missing">No dvc.lock yet: the pipeline has not been run with dvc repro.</p>')
    body.append(f"<h3>MLflow</h3><p>Tracking store: <code>{escape(page.tracking_uri)}</code>; open it with "
                "<code>mlflow ui --backend-store-uri &lt;store&gt;</code>.</p>")
    body.append(f'<p class="missing">{escape(page.mlflow_error)}</p>' if page.mlflow_error
                else _runs_table(page.runs))
    body.append("<h3>Model Registry</h3><p>The newest versions of each registered model; "
                "<code>models:/&lt;name&gt;@champion</code> is the deployed one (links open the "
                f"MLflow UI at {escape(page.mlflow_ui)}).</p>")
    if page.models_error:
        body.append(f'<p class="missing">{escape(page.models_error)}</p>')
    elif page.models:
        body.append(_models_table(page.models, page.mlflow_ui))
    else:
        body.append('<p class="missing">No registered model yet: run the training stages (dvc repro).</p>')
    body.append("</section>")
    body.append(page.audit_html)
    body.append('<section id="configuration"><h2>Configuration</h2><p>The composed configuration '
                f"(params.yaml) this run read.</p><details><summary>params.yaml</summary><pre>"
                f"{escape(page.params_yaml)}</pre></details></section>")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(page.title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
