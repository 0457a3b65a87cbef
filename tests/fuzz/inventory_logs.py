"""Hypothesis strategies for corrupted chemical inventory logs (tests/fuzz/test_inventory_*.py):
a real log (or a part of one) with cells replaced by what real files hold by mistake (corrupted
numbers, units, CAS numbers, names in other cases and spacing, huge, negative and NaN amounts,
odd ids and dates, stray text), rows repeated, and the CSV bytes a lab would send."""
from __future__ import annotations

import csv
import io

from hypothesis import strategies as st

from pipeline.contracts.inventory import LOG_COLUMNS, PURCHASE
from pipeline.contracts.inventory.units import UNITS

# Text a spreadsheet or a hand-written CSV puts into a cell: letters, digits, signs, spaces, tabs,
# non-breaking spaces, accents, quotes, commas (csv quotes them), a few control characters.
CELL_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
                    max_size=12)

ODD_IDS = st.sampled_from(["0", "-3", "1.5", "3.0", " 7", "7 ", "1e9", "1e400", "nan", "inf", "", " ", "x",
                           "99999999999999999999", "36525", "36526", "1_0", "٣"])
ODD_AMOUNTS = st.one_of(
    st.sampled_from(["", " ", "abc", "nan", "NaN", "inf", "-inf", "-1", "-0", "0", "1e9", "1e308", "1e400", " 5",
                     "5.0", "1_000", "0x10", "1,5", "５", "1e-320"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=2e6).map(lambda v: f"{v:.6g}"))
ODD_UNITS = st.sampled_from([*UNITS, "furlong", "", " ml", "ML", "L ", "Kg", "litre", "µ"])
ODD_REASONS = st.sampled_from([PURCHASE, PURCHASE.upper(), " initial purchase ", "Experiment_3", "experiment_12",
                               "Experiment_", "Experiment_x", "spilled", ""])
ODD_CAS = st.sampled_from(["64-17-6", "6417-5", "", " 64-17-5 ", "67-56-1", "0-00-0", "7647-14-5", "50-00-0",
                           "1-17-5", "64--17-5"])


def names_of(catalogue) -> list[str]:
    return [e["name"] for e in catalogue.chemicals.values()]


def odd_cells(catalogue) -> dict[str, st.SearchStrategy[str]]:
    """Per column, the wrong values a real log holds (and any text at all)."""
    names = names_of(catalogue)
    variants = st.sampled_from(names).flatmap(lambda n: st.sampled_from([n, n.upper(), n.lower(), f" {n} ", n + "s"]))
    labs = sorted(catalogue.locations or ["Lab_1"])
    return {"id": st.one_of(ODD_IDS, st.integers(-5, 10**6).map(str), CELL_TEXT),
            "amount_taken": st.one_of(ODD_AMOUNTS, CELL_TEXT),
            "unit": st.one_of(ODD_UNITS, CELL_TEXT),
            "location": st.one_of(st.sampled_from([*labs, "Lab_9", "lab_1", f" {labs[0]} ", ""]), CELL_TEXT),
            "chemical": st.one_of(variants, st.sampled_from(["Unobtainium", ""]), CELL_TEXT),
            "CAS": st.one_of(ODD_CAS, CELL_TEXT),
            "reason": st.one_of(ODD_REASONS, CELL_TEXT)}


def benign(column: str, value: str) -> st.SearchStrategy[str]:
    """The same cell as another hand or program writes it: spaces, case, `7.0` for `7`. The loader
    reads it as the original, so the row stays accepted."""
    if column in ("id", "amount_taken"):
        return st.sampled_from([f" {value}", f"{value} ", f"{float(value)!r}", f"+{value}"])
    if column in ("chemical", "reason"):
        return st.sampled_from([value.upper(), value.lower(), f" {value} ", f"{value}\t"])
    return st.sampled_from([f" {value}", f"{value} ", f" {value}\t"])


@st.composite
def corrupted(draw, base: list[dict], catalogue, max_edits: int = 6) -> list[dict]:
    """`base` (rows of strings) either written differently but read alike (benign edits: the
    service must then forecast what the stage forecasts) or with up to `max_edits` cells replaced
    by wrong values and up to 3 rows repeated (the service must refuse what the loader quarantines)."""
    rows = [dict(r) for r in base]
    if draw(st.booleans()):
        for _ in range(draw(st.integers(0, 2 * max_edits))):
            i = draw(st.integers(0, len(rows) - 1))
            column = draw(st.sampled_from(LOG_COLUMNS))
            rows[i][column] = draw(benign(column, base[i][column]))
        return rows
    cells = odd_cells(catalogue)
    for _ in range(draw(st.integers(1, max_edits))):
        i = draw(st.integers(0, len(rows) - 1))
        column = draw(st.sampled_from(LOG_COLUMNS))
        rows[i][column] = draw(cells[column])
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(rows) - 1))
        rows.insert(draw(st.integers(i + 1, len(rows))), dict(rows[i]))
    return rows


def as_csv(rows: list[dict]) -> bytes:
    """The rows as a CSV file (what the stage reads and /forecast/csv takes)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()
