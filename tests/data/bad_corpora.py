"""One bad-input file per loader that hits every quarantine reason the loader has
(pipeline/contracts/quarantine.BY_LOADER), with the Hydra overrides that point the stage at it.

Each writer returns (overrides, expected): `expected` maps a file row (header = row 1) to the
reason code it must get. docs/bad_inputs.md lists the same cases.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.data.inventory_corpus import BAD_ROWS, GOOD, GOOD_LAST, write_log


def fault_corpus(folder: Path) -> tuple[list[str], dict[int, str]]:
    """The Kaggle layout (data/fault=kaggle), 30 rows, 9 of them bad."""
    stamps = pd.date_range("2024-01-01", periods=30, freq="10min")
    rows = [[f"{t:%Y-%m-%d %H:%M:%S}", "62.0", "24.0", "758", "0.3", "45.0", str(i % 4), str(i % 2)]
            for i, t in enumerate(stamps)]
    rows[1][1] = "n/a"          # row 3: not_a_number (Pressure)
    rows[3][2] = "inf"          # row 5: not_a_number (Temperature)
    rows[5][5] = "130"          # row 7: out_of_range (Humidity)
    rows[7][3] = "-5"           # row 9: out_of_range (Speed)
    rows[9][6] = "2.5"          # row 11: not_whole_number (Maintenance_Cycles)
    rows[11][7] = "maybe"       # row 13: unknown_label (Fault)
    rows[13][0] = "yesterday"   # row 15: not_a_timestamp
    rows[16][0] = rows[15][0]   # row 18: duplicate_timestamp
    rows[18][4] = ""            # row 20: not_a_number (Vibration, empty)
    path = folder / "tablet_press.csv"
    header = ["Timestamp", "Pressure", "Temperature", "Speed", "Vibration", "Humidity", "Maintenance_Cycles", "Fault"]
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    expected = {3: "not_a_number", 5: "not_a_number", 7: "out_of_range", 9: "out_of_range", 11: "not_whole_number",
                13: "unknown_label", 15: "not_a_timestamp", 18: "duplicate_timestamp", 20: "not_a_number"}
    return ["data/fault=kaggle", f"data.fault.path={path}"], expected


def line_corpus(folder: Path) -> tuple[list[str], dict[int, str]]:
    """The 10-second press layout (data/line=press_10s), 62 rows, 7 of them bad."""
    columns = ["timestamp", "campaign", "batch", "tbl_speed", "fom", "main_comp", "tbl_fill", "SREL", "pre_comp",
               "cyl_main", "cyl_pre", "stiffness", "ejection", "code"]  # code: the product (issue 23's segment)
    t0 = pd.Timestamp("2019-09-06 04:00:00")
    rows = [[str(t0 + pd.Timedelta(seconds=10 * i)), "80", "368", str(120 + i % 3), "40", f"{12 + 0.1 * (i % 5):.1f}",
             "4.22", "1.1", "2.0", "1.37", "5", "2", str(470 + i % 7), "6"] for i in range(60)]
    rows[2][0] = "not a time"               # row 4: not_a_timestamp
    rows[5][5] = "nan"                      # row 7: not_a_number (main_comp)
    rows[8][3] = "inf"                      # row 10: not_a_number (tbl_speed)
    rows[11][12] = "abc"                    # row 13: not_a_number (ejection)
    rows[40][2] = ""                        # row 44 once two rows are inserted below: segment_missing (batch)
    rows.insert(15, list(rows[14]))         # row 17: duplicate_timestamp (of row 16)
    rows.insert(25, [rows[3][0], *rows[3][1:]])  # row 27: timestamp_out_of_order
    path = folder / "press.csv"
    path.write_text(";".join(columns) + "\n" + "".join(";".join(r) + "\n" for r in rows))
    expected = {4: "not_a_timestamp", 7: "not_a_number", 10: "not_a_number", 13: "not_a_number",
                17: "duplicate_timestamp", 27: "timestamp_out_of_order", 44: "segment_missing"}
    return ["data/line=press_10s", f"data.line.path={path}"], expected


def inventory_corpus(folder: Path) -> tuple[list[str], dict[int, str]]:
    """The raw inventory schema (data/inventory=file): tests/data/inventory_corpus.BAD_ROWS."""
    path = write_log(folder / "inventory.csv", [GOOD, *[row for row, _ in BAD_ROWS], GOOD_LAST])
    expected = {3 + i: reason for i, (_, reason) in enumerate(BAD_ROWS)}
    return ["data/inventory=file", f"data.inventory.path={path}"], expected


def prices_corpus(folder: Path) -> tuple[list[str], dict[int, str]]:
    """A local-time file around a spring-forward day (data/prices=csv, America/Los_Angeles)."""
    hours = pd.date_range(pd.Timestamp("2021-03-13", tz="America/Los_Angeles"), periods=72, freq="h")
    lines = [f"{t.tz_localize(None):%Y-%m-%d %H:%M:%S},{40 + i % 24}" for i, t in enumerate(hours)]
    lines[10] = "2021-03-13 10:30:00,50"     # row 12: partial_hour (10:00 missing, only a stray 10:30)
    lines[30] = "2021-03-14 07:00:00,NaN"    # row 32: not_a_number (outside the horizon)
    lines[31] = "2021-03-14 08:00:00,n/a"    # row 33: not_a_number
    lines[40] = "noon-ish,41"                # row 42: not_a_timestamp
    lines.insert(26, "2021-03-14 02:30:00,45")  # row 28: time_not_in_zone (the skipped hour)
    lines.insert(50, lines[49])              # row 52: duplicate_timestamp
    path = folder / "prices.csv"
    path.write_text("ts,price\n" + "\n".join(lines) + "\n")
    expected = {12: "partial_hour", 28: "time_not_in_zone", 33: "not_a_number", 34: "not_a_number", 43: "not_a_timestamp",
                52: "duplicate_timestamp"}
    return ["data/prices=csv", f"data.prices.path={path}", "data.prices.timestamp_column=ts",
            "data.prices.timezone=America/Los_Angeles", "data.prices.start='2021-03-15 00:00:00'"], expected


CORPORA = {"fault": fault_corpus, "line": line_corpus, "inventory": inventory_corpus, "prices": prices_corpus}
