"""The report page's audit trail: every promotion of each registered model (who moved the alias to
which version, when, why, on what evidence), read from the audit experiment of the tracking store
(pipeline/core/promotion.py). One self-contained section; an unreadable store is said, not fatal."""
from __future__ import annotations

import re
from html import escape

from omegaconf import DictConfig, OmegaConf

from pipeline.core.promotion import Promotion, audit_experiment, audit_trail
from pipeline.report.identifiers import public_uri


def promotions(uri: str, cfg: DictConfig) -> tuple[dict[str, list[Promotion]], str, str | None]:
    """({model: its promotions, newest first}, audit experiment, error)."""

    names = [str(n) for n in (OmegaConf.select(cfg, "tracking.registry.models") or {}).values()]
    audit = audit_experiment(cfg)
    try:
        from mlflow.tracking import MlflowClient

        trail = audit_trail(MlflowClient(tracking_uri=uri), audit, names)
    except Exception as exc:  # an unreachable or refusing server must not stop the page
        message = re.sub(r"//[^/@\s]+@", "//", str(exc))
        return {}, audit, f"Audit trail in {public_uri(uri)} could not be read: {message[:500]}"
    return {name: [p for p in trail if p.model == name] for name in names}, audit, None


def _evidence(p: Promotion) -> str:
    parts = [f"{k.removeprefix('metric.')} {v}" for k, v in p.evidence.items() if k.startswith("metric.")]
    parts += [f"{k.removeprefix('dataset.').removesuffix('.md5')} md5 {v[:12]}" for k, v in p.evidence.items()
              if k.startswith("dataset.") and k.endswith(".md5")]
    if p.evidence.get("git_commit"):
        parts.append(f"git {p.evidence['git_commit'][:12]} ({p.evidence.get('git_working_tree', '?')})")
    if p.evidence.get("beats_baselines"):
        parts.append(f"beats its baselines: {p.evidence['beats_baselines']}")
    return "; ".join(parts)


def section_html(trail: dict[str, list[Promotion]], audit: str, error: str | None) -> str:
    head = ('<section id="promotions"><h2>Promotions (audit trail)</h2>'
            f"<p>Every move of a model's alias, by a training stage or by hand (<code>python -m pipeline.core.registry "
            f"promote &lt;name&gt; &lt;version&gt; --reason ...</code>): who, when, why and the evidence, one run each "
            f"in the MLflow experiment <code>{escape(audit)}</code> (docs/security.md).</p>")
    if error:
        return f'{head}<p class="missing">{escape(error)}</p></section>'
    parts = [head]
    for model, rows in trail.items():
        parts.append(f"<h3>{escape(model)}</h3>")
        if not rows:
            parts.append('<p class="note">No promotion recorded.</p>')
            continue
        body = "".join(
            f"<tr><td>{escape(p.when)}</td><td>{escape(p.version)}</td><td>{escape(p.alias)}</td>"
            f"<td>{escape(p.previous)}</td><td>{escape(p.who)}</td><td>{escape(p.by)}</td><td>{escape(p.why)}</td>"
            f"<td>{escape(_evidence(p))}</td><td>{escape(p.status)}</td><td>{escape(p.audit_run)}</td></tr>"
            for p in rows)
        parts.append("<table><tr><th>when (UTC)</th><th>version</th><th>alias</th><th>before</th><th>who</th>"
                     "<th>by</th><th>why</th><th>evidence</th><th>status</th><th>audit run</th></tr>"
                     f"{body}</table>")
    parts.append("</section>")
    return "".join(parts)
