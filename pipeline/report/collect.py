"""Gather what one stage left under reports/<folder>/: metrics, figures, tables."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image

from pipeline.core.figures import CAPTION_KEY
from pipeline.core.tracking import flatten
from pipeline.report.committed import committed_metrics, moved


@dataclass
class Figure:
    path: Path
    caption: str
    data_uri: str


@dataclass
class Table:
    path: Path
    frame: pd.DataFrame
    total_rows: int
    error: str | None = None


@dataclass
class StageOutputs:
    folder: Path
    exists: bool
    metrics: dict[str, dict] = field(default_factory=dict)   # file name -> flat {key: value}
    moved: dict[str, dict] = field(default_factory=dict)     # file name -> {key: committed value} where it differs
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)        # unreadable files, said plainly


def figure_caption(path: Path, stage: str) -> str:
    """The sentence a stage stored in the PNG (pipeline.core.figures.save_figure), or
    a plain statement of which stage made which figure."""
    try:
        with Image.open(path) as img:
            text = getattr(img, "text", {}) or {}
    except OSError:
        text = {}
    sentence = (text.get(CAPTION_KEY) or text.get("Title") or "").strip()
    if sentence:
        return sentence
    words = path.stem.replace("_", " ").replace("-", " ")
    return f"Figure '{words}' from {stage} (no description stored in {path.name})."


def read_figure(path: Path, stage: str) -> Figure:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(path, figure_caption(path, stage), f"data:image/png;base64,{encoded}")


def read_table(path: Path, max_rows: int) -> Table:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return Table(path, pd.DataFrame(), 0, error=f"could not read {path.name}: {exc}")
    return Table(path, frame.head(max_rows), len(frame))


def read_metrics(path: Path) -> dict:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return flatten(data)


def collect(folder: Path, stage: str, max_rows: int = 30, root: Path | None = None) -> StageOutputs:
    """Everything under `folder` (non-recursive, plus one level of sub-folders for figures);
    with `root` (the git repository), also which metrics moved from the committed ones."""
    out = StageOutputs(folder=folder, exists=folder.is_dir())
    if not out.exists:
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            out.metrics[path.name] = read_metrics(path)
        except (ValueError, json.JSONDecodeError) as exc:
            out.problems.append(f"{path.name}: unreadable metrics ({exc})")
            continue
        if root is not None and (changed := moved(out.metrics[path.name], committed_metrics(root, path))):
            out.moved[path.name] = changed
    for path in sorted(folder.glob("*.png")) + sorted(folder.glob("*/*.png")):  # e.g. inventory/figures/
        out.figures.append(read_figure(path, stage))
    for path in sorted(folder.glob("*.csv")):
        table = read_table(path, max_rows)
        if table.error:
            out.problems.append(table.error)
        else:
            out.tables.append(table)
    return out
