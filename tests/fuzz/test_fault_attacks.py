"""Generated attacks on the fault-log door (pipeline/data/fault/loader.py through the prepare_fault
stage): a Kaggle-layout press log, corrupted (wrong types, NaN/inf, huge numbers, formula cells,
duplicated, shuffled and dropped rows, duplicated, missing and renamed columns, odd separators
and encodings), with either bad-row policy and either order policy. The stage answers with rows
read = accepted + quarantined and a quarantine file without a live formula, or refuses in one
line; never a traceback."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.file_doors import attack_stage, cases, composed, corrupt_table, encode

HEADER = ["Timestamp", "Pressure", "Temperature", "Speed", "Vibration", "Humidity", "Maintenance_Cycles", "Fault"]


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory):
    return composed(tmp_path_factory.mktemp("fault"), "fault", "kaggle")


@st.composite
def press_logs(draw):
    n = draw(st.integers(1, 40), label="rows")
    stamps = pd.date_range("2024-01-01", periods=n, freq=draw(st.sampled_from(["10min", "1min", "1h"])))
    number = st.floats(0, 100, allow_nan=False).map(lambda v: f"{v:.3f}")
    rows = [[f"{t:%Y-%m-%d %H:%M:%S}", draw(number), draw(number), str(700 + i % 90), "0.3", draw(number),
             str(i % 4), draw(st.sampled_from(["0", "1", "yes", "no"]))] for i, t in enumerate(stamps)]
    header, rows = corrupt_table(draw, HEADER, rows)
    policy = {"on_bad_row": draw(st.sampled_from(["quarantine"] * 3 + ["error"])),
              "unordered": draw(st.sampled_from(["error", "sort"]))}
    return encode(draw, header, rows, ","), policy


@settings(max_examples=cases(30))
@given(case=press_logs())
def test_the_fault_stage_answers_with_rows_that_add_up_or_refuses_in_one_line(base_cfg, case):
    data, policy = case
    attack_stage("fault", base_cfg, data, policy)
