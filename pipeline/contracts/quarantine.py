"""Why a row of an outside file was quarantined: stable codes, each with the sentence a person reads.

The code is what the stages count (`quarantined_by_reason` in reports/data/<kind>_metrics.json,
MLflow metrics `data/quarantined_by_reason/<code>`) and what a script may match on: it never
changes once released. The sentence stands beside it in the quarantine file (`reason_text`),
filled with the row's column and detail (a range, the allowed values). Codes are lower-case
identifiers, so they are legal metric names anywhere.

docs/bad_inputs.md lists, per loader, each bad input the tests feed and the code it gets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Reason:
    code: str   # stable identifier: counted, logged, matched on
    text: str   # the sentence; may use {column} and {detail}

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"quarantine reason code {self.code!r} must be a lower-case identifier")

    def sentence(self, column: str | None = None, detail: str = "") -> str:
        return self.text.format(column=column or "", detail=detail).strip()


# Shared by the loaders of time series (fault log, line sheets, prices).
NOT_A_NUMBER = Reason("not_a_number", "{column} is not a finite number (text, empty, NaN or inf) {detail}")
NOT_A_TIMESTAMP = Reason("not_a_timestamp", "{column} is not a readable date and time {detail}")
DUPLICATE_TIMESTAMP = Reason("duplicate_timestamp", "{column} repeats an earlier row's time (the first is kept)")

# Tablet-press fault log (pipeline/data/fault/loader.py).
OUT_OF_RANGE = Reason("out_of_range", "{column} outside its plausible range {detail} (data.fault.valid_ranges)")
NOT_WHOLE_NUMBER = Reason("not_whole_number", "{column} is not a whole number of maintenance actions")
UNKNOWN_LABEL = Reason("unknown_label", "{column} is not one of the fault label spellings {detail} "
                                        "(data.fault.fault_labels)")

# Line sheets (pipeline/data/line/validation.py).
TIMESTAMP_OUT_OF_ORDER = Reason("timestamp_out_of_order", "{column} is earlier than a row before it")
SEGMENT_MISSING = Reason("segment_missing", "{column} is empty: the row names no production segment (batch)")

# Prices (pipeline/contracts/prices.py).
TIME_NOT_IN_ZONE = Reason("time_not_in_zone", "{column} does not exist or is ambiguous in the time zone {detail} "
                                              "(a DST change: give UTC offsets or data.prices.timezone)")
PARTIAL_HOUR = Reason("partial_hour", "{column}: the row's hour holds too few rows to make an hourly price {detail} "
                                      "(data.prices.partial_hour)")

# Chemical inventory log (pipeline/contracts/inventory/rules.py, cas.py).
ID_INVALID = Reason("id_invalid", "id is not a whole day number >= 1")
ID_IMPLAUSIBLE = Reason("id_implausible", "id is a day beyond the plausible length of a log {detail}")
AMOUNT_MISSING = Reason("amount_missing", "amount_taken is empty")
AMOUNT_NOT_A_NUMBER = Reason("amount_not_a_number", "amount_taken is not a number")
AMOUNT_NOT_FINITE = Reason("amount_not_finite", "amount_taken is NaN or infinite")
AMOUNT_NEGATIVE = Reason("amount_negative", "amount_taken is negative")
AMOUNT_IMPLAUSIBLE = Reason("amount_implausible", "amount above the plausible limit for one row {detail} "
                                                  "(data.inventory.plausible_max)")
UNIT_UNKNOWN = Reason("unit_unknown", "unit is not a known mass or volume unit {detail}")
LOCATION_UNKNOWN = Reason("location_unknown", "location is not in data.inventory.locations {detail}")
CHEMICAL_UNKNOWN = Reason("chemical_unknown", "chemical is not in the catalogue (data.inventory.chemicals)")
CAS_MISSING = Reason("cas_missing", "CAS number is empty")
CAS_MALFORMED = Reason("cas_malformed", "CAS number is not of the form NNNNNNN-NN-N")
CAS_CHECK_DIGIT = Reason("cas_check_digit", "CAS number's check digit is wrong")
CAS_NAME_CONFLICT = Reason("cas_name_conflict", "CAS number belongs to another chemical than the row's name")
LOG_REASON_UNKNOWN = Reason("log_reason_unknown", "reason is neither 'initial purchase' nor Experiment_N")
MASS_WITHOUT_DENSITY = Reason("mass_without_density", "a mass for a volume-tracked chemical without a density")
VOLUME_WITHOUT_DENSITY = Reason("volume_without_density", "a volume for a mass-tracked chemical without a density")
DUPLICATE_RECORD = Reason("duplicate_record", "the same record as an earlier row, field for field (the first is kept)")

# Per loader, every code it can give (docs/bad_inputs.md and the tests walk these).
BY_LOADER: dict[str, tuple[Reason, ...]] = {
    "fault": (NOT_A_TIMESTAMP, NOT_A_NUMBER, OUT_OF_RANGE, NOT_WHOLE_NUMBER, UNKNOWN_LABEL, DUPLICATE_TIMESTAMP),
    "line": (NOT_A_TIMESTAMP, NOT_A_NUMBER, DUPLICATE_TIMESTAMP, TIMESTAMP_OUT_OF_ORDER, SEGMENT_MISSING),
    "inventory": (ID_INVALID, ID_IMPLAUSIBLE, AMOUNT_MISSING, AMOUNT_NOT_A_NUMBER, AMOUNT_NOT_FINITE, AMOUNT_NEGATIVE,
                  UNIT_UNKNOWN, LOCATION_UNKNOWN, CHEMICAL_UNKNOWN, CAS_MISSING, CAS_MALFORMED, CAS_CHECK_DIGIT,
                  CAS_NAME_CONFLICT, LOG_REASON_UNKNOWN, MASS_WITHOUT_DENSITY, VOLUME_WITHOUT_DENSITY,
                  AMOUNT_IMPLAUSIBLE, DUPLICATE_RECORD),
    "prices": (NOT_A_NUMBER, NOT_A_TIMESTAMP, TIME_NOT_IN_ZONE, DUPLICATE_TIMESTAMP, PARTIAL_HOUR),
}
