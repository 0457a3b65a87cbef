"""docs/bad_inputs.md stays true: every quarantine code of every loader is in its table, and every
test the table names exists."""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.contracts.quarantine import BY_LOADER

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "bad_inputs.md").read_text()
SECTIONS = {"fault": "Tablet-press fault log", "line": "Line data", "inventory": "Chemical inventory", "prices": "Prices"}


def _section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start: end if end > 0 else None]


def test_every_code_of_every_loader_is_in_its_table():
    for kind, title in SECTIONS.items():
        text = _section(title)
        missing = [r.code for r in BY_LOADER[kind] if f"`{r.code}`" not in text]
        assert not missing, f"docs/bad_inputs.md, {title}: codes {missing} are not listed"


def test_every_named_test_exists():
    named = re.findall(r"`(\w+/test_\w+\.py)(?:::(\w+))?", DOC)
    last_file = None
    for file, test in named:
        path = ROOT / "tests" / file
        assert path.exists(), f"docs/bad_inputs.md names {file}, which does not exist"
        last_file = path
        if test:
            assert f"def {test}(" in path.read_text(), f"docs/bad_inputs.md names {file}::{test}, which does not exist"
    for test in re.findall(r"`::(\w+)`", DOC):  # `::name` continues the file named before it in the row
        assert any(f"def {test}(" in p.read_text() for p in (ROOT / "tests").rglob("test_*.py")), test
    assert last_file is not None
