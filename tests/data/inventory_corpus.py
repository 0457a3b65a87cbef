"""Test helpers: write small inventory logs, good and bad, in the raw schema."""
from __future__ import annotations

import csv
from pathlib import Path

from pipeline.contracts.inventory import LOG_COLUMNS as COLUMNS

GOOD = (1, "100", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1")

# One bad row per problem the issue names (and a few more), each with the reason it must get.
BAD_ROWS = [
    ((2, "5", "furlong", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "unit unknown"),
    ((2, "5", "bbl", "Lab_2", "Acetone", "67-64-1", "Experiment_3"), "unit unknown"),
    ((3, "12", "g", "Lab_1", "Hydrochloric acid", "7647-01-0", "Experiment_1"),
     "mass for a volume-tracked chemical without density"),
    ((3, "0.2", "L", "Lab_2", "Magnesium stearate", "557-04-0", "Experiment_2"),
     "volume for a mass-tracked chemical without density"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "64-17-6", "Experiment_1"), "CAS check digit wrong"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "6417-5", "Experiment_1"), "CAS malformed (expected NNNNNNN-NN-N)"),
    ((4, "10", "ml", "Lab_1", "Ethanol", "67-56-1", "Experiment_1"), "CAS conflicts with the chemical's name"),
    ((5, "-3", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount negative"),
    ((5, "", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount missing"),
    ((5, "abc", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount not a number"),
    ((5, "nan", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount not finite (NaN or inf)"),
    ((5, "inf", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "amount not finite (NaN or inf)"),
    (("x", "10", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "id not a whole day number >= 1"),
    ((0, "10", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"), "id not a whole day number >= 1"),
    ((6, "10", "ml", "Lab_1", "Unobtainium", "64-17-5", "Experiment_1"),
     "chemical not in catalogue (data.inventory.chemicals)"),
    ((6, "10", "ml", "Lab_9", "Ethanol", "64-17-5", "Experiment_1"), "location not in data.inventory.locations"),
    ((6, "10", "ml", "Lab_1", "Ethanol", "64-17-5", "spilled"), "reason neither 'initial purchase' nor Experiment_N"),
]


def write_log(path: Path, rows, columns=COLUMNS) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    return path
