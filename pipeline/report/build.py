"""Assemble reports/index.html from whatever the stages left; missing stages are said, not fatal."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core.config import repo_root
from pipeline.core.tracking import experiment_name, tracking_uri
from pipeline.report.audit import promotions, section_html
from pipeline.report.collect import collect
from pipeline.report.decisions import decisions_html
from pipeline.report.identifiers import (dvc_lock_hashes, git_identity, latest_runs, mlflow_ui, public_uri,
                                         registered_versions)
from pipeline.report.page import PageInputs, render
from pipeline.report.sections import SECTIONS

PAGE_NAME = "index.html"


def build_page(cfg: DictConfig, root: Path | None = None) -> tuple[Path, dict]:
    """Write <reports>/index.html; return its path and the page's metrics."""
    root = root or repo_root()
    reports = Path(cfg.paths.reports)
    reports = reports if reports.is_absolute() else root / reports
    sections = [(s, collect(reports / s.folder, s.stage, root=root)) for s in SECTIONS]
    uri = tracking_uri(cfg)
    experiments = [experiment_name(s.experiment, cfg) for s in SECTIONS if s.experiment]
    runs, mlflow_error = latest_runs(uri, experiments)
    names = list((OmegaConf.select(cfg, "tracking.registry.models") or {}).values())
    models, models_error = registered_versions(uri, names)
    page = PageInputs(
        title="Tablet manufacturing pipeline: results",
        sections=sections,
        identity=git_identity(root),
        lock_hashes=dvc_lock_hashes(root),
        tracking_uri=public_uri(uri),
        runs=runs,
        mlflow_error=mlflow_error,
        params_yaml=OmegaConf.to_yaml(cfg),
        models=models,
        models_error=models_error,
        mlflow_ui=mlflow_ui(uri),
        audit_html=section_html(*promotions(uri, cfg)),
        decisions_html=decisions_html(reports),
    )
    path = reports / PAGE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render(page))
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; the page is meant to be read and served
    os.replace(tmp, path)
    metrics = {
        "stages_present": sum(o.exists for _, o in sections),
        "stages_missing": sum(not o.exists for _, o in sections),
        "figures": sum(len(o.figures) for _, o in sections),
        "tables": sum(len(o.tables) for _, o in sections),
        "unreadable_files": sum(len(o.problems) for _, o in sections),
    }
    return path, metrics
