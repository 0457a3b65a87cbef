"""Cells that a spreadsheet would run as a formula (`=cmd|' /C calc'!A0`, CSV injection) never reach
a CSV the project writes from outside input unchanged: the quarantine file of each of the four
loaders and the inventory log the stage echoes. Numbers stay numbers."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from pipeline.core.io import neutralise_cell, spreadsheet_safe, write_csv
from tests.conftest import make_cfg
from tests.data.bad_corpora import CORPORA

ATTACK = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize("cell, written", [
    (ATTACK, "'" + ATTACK), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3+cmd|' /C calc'!A0", None),
    ("@SUM(1+9)*cmd|' /C calc'!A0", None), ("\t=1+1", None), ("\r=1+1", None),
    ("-5", "-5"), ("+1.5e3", "+1.5e3"), ("-.5", "-.5"), ("Ethanol", "Ethanol"), ("", ""), ("a=b", "a=b"),
])
def test_a_cell_that_would_start_a_formula_gets_a_leading_quote(cell, written):
    assert neutralise_cell(cell) == (written if written is not None else "'" + cell)


def test_only_text_is_touched_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame({"text": [ATTACK, "-5", None], "number": [-5, 3, 1], "float": [-5.5, np.nan, 2.0],
                          "mixed": pd.Series(["-x", -5, 2.5], dtype=object), "@header": ["a", "b", "c"]})
    back = pd.read_csv(write_csv(frame, tmp_path / "t.csv"), dtype=str, keep_default_na=False)
    assert list(back.columns) == ["text", "number", "float", "mixed", "'@header"]
    assert back["text"].tolist() == ["'" + ATTACK, "-5", ""]
    assert back["number"].tolist() == ["-5", "3", "1"] and back["float"].tolist() == ["-5.5", "", "2.0"]
    assert back["mixed"].tolist() == ["'-x", "-5", "2.5"]
    assert spreadsheet_safe(frame)["number"].equals(frame["number"])


# where each loader's corpus (tests/data/bad_corpora.py) gets the attack instead of a bad value
PLANTED = {"fault": ("n/a", ATTACK), "line": ("abc", ATTACK), "prices": ("n/a", ATTACK),
           "inventory": ("Unobtainium", ATTACK)}


@pytest.mark.parametrize("kind", sorted(CORPORA))
def test_every_loaders_quarantine_file_neutralises_the_cell(kind, tmp_path):
    overrides, expected = CORPORA[kind](tmp_path)
    path = next(o.split("=", 1)[1] for o in overrides if o.startswith(f"data.{kind}.path="))
    old, new = PLANTED[kind]
    text = open(path).read()
    assert old in text
    open(path, "w").write(text.replace(old, new, 1))
    cfg = make_cfg(tmp_path, overrides)
    reports = tmp_path / "reports" / "data"
    importlib.import_module(f"pipeline.data.{kind}").prepare(cfg, tmp_path / "data" / kind, reports)
    table = pd.read_csv(reports / f"{kind}_quarantine.csv", dtype=str, keep_default_na=False)
    cells = table.to_numpy().ravel().tolist()
    assert "'" + ATTACK in cells and ATTACK not in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")], "a formula left in a quarantine file"
    if kind == "inventory":
        assert "-3" in table["amount_taken"].tolist()  # a negative amount stays a number
        echoed = pd.read_csv(tmp_path / "data" / kind / "log.csv", dtype=str, keep_default_na=False)
        assert "'" + ATTACK in echoed["chemical"].tolist() and ATTACK not in echoed["chemical"].tolist()
