"""Test helpers: write small inventory logs, good and bad, in the raw schema."""
from __future__ import annotations

import csv
from pathlib import Path

from pipeline.contracts.inventory import LOG_COLUMNS as COLUMNS

GOOD = (1, "100", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1")
GOOD_LAST = (9, "2.5", "L", "Lab_2", "Ethanol", "64-17-5", "initial purchase")

# One bad row per problem the issue names (and a few more), each with the reason code it must get
# (pipeline/contracts/quarantine.py).
BAD_ROWS = [
    ((2, "5", "furlong", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "unit_unknown"),
    ((2, "5", "bbl", "Lab_2", "Acetone", "67-64-1", "Experiment_3"), "unit_unknown"),
    ((3, "12", "g", "Lab_1", "Hydrochloric acid", "7647-01-0", "Experiment_1"), "mass_without_density"),
    ((3, "0.2", "L", "Lab_2", "Magnesium stearate", "557-04-0", "Experiment_2"), "volume_without_density"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "64-17-6", "Experiment_1"), "cas_check_digit"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "6417-5", "Experiment_1"), "cas_malformed"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "", "Experiment_1"), "cas_missing"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "67-56-1", "Experiment_1"), "cas_name_conflict"),
    ((5, "-3", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount_negative"),
    ((5, "", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount_missing"),
    ((5, "abc", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount_not_a_number"),
    ((5, "nan", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount_not_finite"),
    ((5, "inf", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount_not_finite"),
    (("x", "10", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "id_invalid"),
    ((0, "10", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "id_invalid"),
    ((10**9, "10", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "id_implausible"),  # a grid to it: 27 GB
    ((6, "10", "ml", "Lab_1", "Unobtainium", "64-17-5", "Experiment_1"), "chemical_unknown"),
    ((6, "10", "ml", "Lab_9", "Ethanol", "64-17-5", "Experiment_1"), "location_unknown"),
    ((6, "10", "ml", "Lab_1", "Ethanol", "64-17-5", "spilled"), "log_reason_unknown"),
    ((7, "1e9", "L", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount_implausible"),  # 1e12 ml
    ((7, "2000", "kg", "Lab_1", "Sodium chloride", "7647-14-5", "initial purchase"), "amount_implausible"),
    (GOOD, "duplicate_record"),  # the first row again, field for field
]


def write_log(path: Path, rows, columns=COLUMNS) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return path
