"""Generated attacks on the line door (pipeline/data/line through the prepare_line stage): the
`;`-separated 10-second press layout (data/line=press_10s) with its batch columns, corrupted
(wrong types, NaN/inf, huge numbers, formula cells, duplicated, shuffled and dropped rows,
duplicated, missing and renamed columns, odd separators and encodings). The stage answers with
rows read = accepted + quarantined and a quarantine file without a live formula, or refuses in
one line; never a traceback."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.file_doors import attack_stage, cases, composed, corrupt_table, encode

HEADER = ["timestamp", "campaign", "batch", "tbl_speed", "fom", "main_comp", "tbl_fill", "SREL", "pre_comp",
          "cyl_main", "cyl_pre", "stiffness", "ejection"]


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory):
    return composed(tmp_path_factory.mktemp("line"), "line", "press_10s")


@st.composite
def press_series(draw):
    n = draw(st.integers(2, 80), label="rows")
    t0 = pd.Timestamp("2019-09-06 04:00:00")
    force = st.floats(0, 30, allow_nan=False).map(lambda v: f"{v:.2f}")
    rows = [[str(t0 + pd.Timedelta(seconds=10 * i)), "80", draw(st.sampled_from(["368", "369"])),
             draw(st.sampled_from(["0", "120", "64"])), "40", draw(force), "4.22", "1.1", "2.0", "1.37", "5", "2",
             str(470 + i % 7)] for i in range(n)]
    header, rows = corrupt_table(draw, HEADER, rows)
    return encode(draw, header, rows, ";")


@settings(max_examples=cases(20))
@given(data=press_series())
def test_the_line_stage_answers_with_rows_that_add_up_or_refuses_in_one_line(base_cfg, data):
    attack_stage("line", base_cfg, data)
