"""The inventory log's rules, one set for every reader: prepare_inventory judges a lab's file with
them and the prediction service judges a request's rows with them (pipeline/inventory), so a row
the stage would quarantine is a row the service refuses, for the same reason.

Raw schema (exactly LOG_COLUMNS): id,amount_taken,unit,location,chemical,CAS,reason. `id` is the
day counter (day 1 = the catalogue's day_one). `initial purchase` rows add stock, `Experiment_N`
rows consume it. Whole-file problems (missing columns, no rows, not a CSV) are a
DataValidationError naming the source; each bad row goes to a Quarantine with the first check it
fails (the order of check_log) and its column.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from pandas.core.algorithms import factorize_array

from pipeline.contracts import quarantine as reasons
from pipeline.contracts.inventory import LOG_COLUMNS, PURCHASE
from pipeline.contracts.inventory.cas import cas_problem
from pipeline.contracts.inventory.catalogue import Catalogue
from pipeline.contracts.inventory.units import BASE_UNIT, UNITS, to_base
from pipeline.core.validation import DataValidationError, Quarantine, require_columns

LOG_REASON = "log_reason"
EXPERIMENT = re.compile(r"^Experiment_(\d+)$", re.IGNORECASE)


def read_log(file: str | Path) -> pd.DataFrame:
    """A raw log as strings (nothing coerced yet), with a clear error for whole-file problems."""
    file = Path(file)
    if not file.exists():
        raise FileNotFoundError(f"{file}: inventory log not found (data.inventory.path)")
    return parse_log(file, file)


def parse_log(source: str | Path | IO[bytes], name: str | Path) -> pd.DataFrame:
    """A raw log from a file or a buffer (`name` in errors): every value a string or NA, column
    names stripped; an error for an unreadable CSV, missing or repeated columns or no rows.
    index_col=False: a file whose lines end with a delimiter (a spreadsheet export) would
    otherwise have its first column taken for the row index and every value shifted one column."""
    try:
        df = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True,
                         index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(name, f"not a readable CSV ({first})") from exc
    df.columns = strip_names(df.columns, name)
    require_columns(df, LOG_COLUMNS, name)
    if df.empty:
        raise DataValidationError(name, "no data rows")
    return df


def strip_names(columns, name: str | Path) -> list[str]:
    """Column names without surrounding spaces; an error when two become one."""
    names = [str(c).strip() for c in columns]
    if len(set(names)) < len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})[:5]
        raise DataValidationError(name, f"column name(s) {repeated} appear twice once spaces are stripped")
    return names


def factorize(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values as an object array): pd.factorize(use_na_sentinel=False), every
    missing value (None, NaN, pd.NA) one value, NaN. Object columns (a JSON request's, the
    uniques of a column) skip pd.factorize's wrapper, which costs twice the hashing itself on a
    request's few thousand rows: the same hash table, its missing values given one code after
    the others (code numbers say which rows hold equal values, nothing more)."""
    if isinstance(values, pd.Series) and values.dtype == object:
        values = values.to_numpy()
    if not (isinstance(values, np.ndarray) and values.dtype == object):
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        return codes, np.asarray(uniques, dtype=object)
    codes, uniques = factorize_array(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = np.append(uniques, np.array([math.nan], dtype=object))
    return codes, uniques


class Coded:
    """A column as codes into its distinct values, so that a rule runs once per distinct value
    (a log repeats a handful of units, labs, names and CAS numbers thousands of times)."""

    def __init__(self, codes: np.ndarray, uniques: np.ndarray):
        self.codes, self.uniques = codes, uniques

    @classmethod
    def of(cls, values: pd.Series | np.ndarray) -> "Coded":
        return cls(*factorize(values))

    def map(self, rule: Callable[[object], object]) -> "Coded":
        """The column of rule(value), coded the same way."""
        return Coded(self.codes, np.fromiter(map(rule, self.uniques), dtype=object, count=len(self.uniques)))

    def values(self, rows: np.ndarray | None = None) -> np.ndarray:
        return self.uniques[self.codes if rows is None else self.codes[rows]]

    def flags(self, rule: Callable[[object], bool]) -> np.ndarray:
        """rule(value) per row, as booleans (the truth of each distinct value's answer, then spread
        over the rows: no object array of the rows' answers to convert)."""
        truth = np.fromiter((bool(rule(v)) for v in self.uniques), dtype=bool, count=len(self.uniques))
        return truth[self.codes]

    def distinct_codes(self) -> np.ndarray:
        """Per row, a code that is equal exactly where the values are (after a map, two codes can
        hold one value)."""
        again, _ = factorize(self.uniques)
        return again[self.codes]


def per_value(values: pd.Series | np.ndarray, rule: Callable[[object], object]) -> np.ndarray:
    """rule(value) per row, computed once per distinct value (an object array)."""
    return Coded.of(values).map(rule).values()


def _stripped(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _amounts(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(amount per text, NaN where refused; why it is refused, None where accepted): float() of
    the text, as Python reads it, with the C loop of numpy's cast doing the reading."""
    n = len(texts)
    value, why = np.full(n, math.nan), np.full(n, None, dtype=object)
    try:  # the usual log: every amount a number (float("") and float(" ") raise: no blank passes)
        if pd.api.types.infer_dtype(texts, skipna=False) != "string":
            raise ValueError("not all text")
        value = texts.astype(float)
    except ValueError:
        given = np.fromiter((isinstance(t, str) and bool(t.strip()) for t in texts), dtype=bool, count=n)
        why[~given] = reasons.AMOUNT_MISSING
        for i in np.flatnonzero(given):
            try:
                value[i] = float(texts[i])
            except ValueError:
                why[i] = reasons.AMOUNT_NOT_A_NUMBER
    read = np.equal(why, None)
    with np.errstate(invalid="ignore"):
        why[read & ~np.isfinite(value)] = reasons.AMOUNT_NOT_FINITE
        why[read & np.isfinite(value) & (value < 0)] = reasons.AMOUNT_NEGATIVE
    value[~np.equal(why, None)] = math.nan
    return value, why


def _day(text: object) -> int | None:
    """The day number of an `id`, or None when it is not a whole number >= 1."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if math.isfinite(value) and value >= 1 and value == int(value) else None


def _days(texts: np.ndarray) -> np.ndarray:
    """_day of each text (an object array of int or None), read by numpy's cast where all are numbers."""
    try:
        if pd.api.types.infer_dtype(texts, skipna=False) != "string":
            raise ValueError("not all text")
        value = texts.astype(float)
    except ValueError:
        return np.fromiter(map(_day, texts), dtype=object, count=len(texts))
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(value) & (value >= 1) & (value == np.floor(value))
    out = np.full(len(texts), None, dtype=object)
    out[whole] = [int(v) for v in value[whole]]
    return out


def _is_purchase(reason: object) -> bool:
    return isinstance(reason, str) and reason.lower() == PURCHASE


def _is_experiment(reason: object) -> bool:
    return isinstance(reason, str) and EXPERIMENT.match(reason) is not None


class _FirstFailure:
    """Each row's first failing check (a row is judged by the first check it fails, in the order
    check_log runs them), kept as arrays so every check runs on every row at once."""

    def __init__(self, n: int):
        self.reason = np.full(n, None, dtype=object)
        self.column = np.full(n, None, dtype=object)
        self.detail = np.full(n, "", dtype=object)
        self._ok = np.ones(n, dtype=bool)  # reason is None: kept beside it, read by every check

    @property
    def ok(self) -> np.ndarray:
        """Rows that passed every check so far (read-only: fail() keeps it)."""
        return self._ok

    def fail(self, bad: np.ndarray, reason: reasons.Reason, column: str, detail: str = "") -> None:
        hit = np.asarray(bad, dtype=bool) & self._ok
        self.reason[hit], self.column[hit], self.detail[hit] = reason, column, detail
        self._ok &= ~hit

    def fail_with(self, why: np.ndarray, column: str) -> None:
        """Rows whose entry in `why` is a reason (not None) fail with it."""
        hit = ~np.equal(why, None) & self._ok
        self.reason[hit], self.column[hit] = why[hit], column
        self._ok &= ~hit

    def quarantine(self, rows: pd.DataFrame, quarantine: Quarantine) -> None:
        failed = ~self.ok
        for reason, detail in dict.fromkeys(zip(self.reason[failed], self.detail[failed])):  # in order of first failure
            mine = np.array([r is reason for r in self.reason]) & (self.detail == detail)
            quarantine.add(rows[mine], reason, self.column[mine][0], detail)


def _base_amounts(amount: np.ndarray, unit: Coded, key: Coded, rows: np.ndarray, catalogue: Catalogue) -> np.ndarray:
    """to_base for the `rows` that got this far, one call per (unit, chemical) on all its
    amounts; NaN where it gives None (and for the other rows)."""
    base = np.full(len(amount), np.nan)
    pair = unit.codes[rows].astype(np.int64) * len(key.uniques) + key.codes[rows]
    firsts, which = np.unique(pair, return_index=True, return_inverse=True)[1:]
    for i, first in enumerate(firsts):
        mine = rows[which == i]
        entry = catalogue.chemicals[key.uniques[key.codes[rows[first]]]]
        converted = to_base(amount[mine], unit.uniques[unit.codes[rows[first]]], entry["kind"], entry["density"])
        if converted is not None:
            base[mine] = converted
    return base


def clean_log(raw: pd.DataFrame, catalogue: Catalogue, quarantine: Quarantine,
              flags: dict | None = None) -> pd.DataFrame:
    """Validate and convert the raw log (data/inventory/clean.parquet); bad rows go to
    `quarantine` with their reason (suspicious rows kept by config are counted in `flags`)."""
    rows = check_log(raw, catalogue, quarantine, flags)
    frame = pd.DataFrame(rows)
    frame.insert(2, "date", catalogue.day_one + pd.to_timedelta(frame["day"] - 1, unit="D"))
    return frame


def check_log(raw: pd.DataFrame, catalogue: Catalogue, quarantine: Quarantine,
              flags: dict | None = None) -> dict[str, np.ndarray]:
    """clean_log's columns (but the date) as arrays, by day and source row: what a forecast
    request needs without building a table. Bad rows go to `quarantine` with the first check
    they fail, in the order below. Implausible amounts and exact duplicates are suspicious
    rather than unreadable: quarantined, or (catalogue.on_implausible / on_duplicate = count)
    kept and counted in `flags` by reason code."""
    flags = {} if flags is None else flags
    ids, amount_text = Coded.of(raw["id"]), Coded.of(raw["amount_taken"])
    day_of = Coded(ids.codes, _days(ids.uniques))
    text = {col: Coded.of(raw[col]).map(_stripped) for col in LOG_COLUMNS[2:]}  # unit ... reason
    unit, key = text["unit"], text["chemical"].map(_lower)
    checks = _FirstFailure(len(raw))
    checks.fail(np.equal(day_of.values(), None), reasons.ID_INVALID, "id")
    checks.fail(day_of.flags(lambda d: d is not None and d > catalogue.max_id), reasons.ID_IMPLAUSIBLE, "id",
                f"(data.inventory.max_id = {catalogue.max_id})")
    amount_value, amount_why = _amounts(amount_text.uniques)
    checks.fail_with(amount_why[amount_text.codes], "amount_taken")
    checks.fail(~unit.flags(UNITS.__contains__), reasons.UNIT_UNKNOWN, "unit", f"({', '.join(UNITS)})")
    if catalogue.locations is not None:
        checks.fail(~text["location"].flags(catalogue.locations.__contains__),
                    reasons.LOCATION_UNKNOWN, "location", str(sorted(catalogue.locations)))
    checks.fail(~key.flags(catalogue.chemicals.__contains__), reasons.CHEMICAL_UNKNOWN, "chemical")
    checks.fail_with(text["CAS"].map(cas_problem).values(), "CAS")
    cas_owner = {str(e["cas"]): k for k, e in catalogue.chemicals.items() if e["cas"]}
    owner = text["CAS"].map(lambda c: cas_owner.get(str(c))).values()
    expected = key.map(lambda k: catalogue.chemicals[k]["cas"] if k in catalogue.chemicals else None)
    verified = ~np.equal(expected.values(), None)
    conflict = (verified & (expected.map(str).values() != text["CAS"].values())) \
        | (~np.equal(owner, None) & (owner != key.values()))
    checks.fail(conflict, reasons.CAS_NAME_CONFLICT, "CAS")
    is_purchase = text["reason"].flags(_is_purchase)
    checks.fail(~(is_purchase | text["reason"].flags(_is_experiment)),
                reasons.LOG_REASON_UNKNOWN, "reason")
    rows = np.flatnonzero(checks.ok)
    amount = amount_value[amount_text.codes]
    base = _base_amounts(amount, unit, key, rows, catalogue)
    kind = key.map(lambda k: catalogue.chemicals[k]["kind"] if k in catalogue.chemicals else None)
    unit_kind = unit.map(lambda u: UNITS[u][0] if u in UNITS else None).values()
    for have, tracked, reason in (("mass", "volume", reasons.MASS_WITHOUT_DENSITY),
                                  ("volume", "mass", reasons.VOLUME_WITHOUT_DENSITY)):
        checks.fail(np.isnan(base) & (unit_kind == have) & (kind.values() == tracked), reason, "unit")
    for tracked, limit in catalogue.plausible_max.items():
        bad = (kind.values() == tracked) & (base > limit)
        _suspicious(checks, bad, catalogue.on_implausible, reasons.AMOUNT_IMPLAUSIBLE, "amount_taken", flags,
                    f"({limit:g} {BASE_UNIT[tracked]} for a {tracked})")
    as_read = [day_of, Coded(amount_text.codes, amount_value.astype(object)), *text.values()]
    _suspicious(checks, _repeats(as_read, checks.ok), catalogue.on_duplicate, reasons.DUPLICATE_RECORD, "", flags)
    if not checks.ok.all():
        # quarantined rows as the loader saw them: text stripped, the log's `reason` renamed
        # (Quarantine adds its own `reason`)
        seen = raw[LOG_COLUMNS].rename(columns={"reason": LOG_REASON})
        for col in LOG_COLUMNS[2:]:
            seen[LOG_REASON if col == "reason" else col] = pd.Series(text[col].values(), index=raw.index, dtype=object)
        checks.quarantine(seen, quarantine)
    rows = np.flatnonzero(checks.ok)
    day = day_of.values(rows).astype(np.int64)
    source_row = raw.index.to_numpy()[rows] + 2
    order = np.lexsort((source_row, day))  # by day, then by source row
    rows, day, source_row = rows[order], day[order], source_row[order]
    kinds = kind.values(rows)
    return {
        "source_row": source_row,
        "day": day,
        "chemical": key.map(lambda k: catalogue.chemicals[k]["name"] if k in catalogue.chemicals else None).values(rows),
        "location": text["location"].values(rows),
        "cas": text["CAS"].values(rows),
        "reason": text["reason"].values(rows),
        "is_purchase": is_purchase[rows],
        "amount": amount[rows],
        "unit": unit.values(rows),
        "kind": kinds,
        "amount_base": base[rows],
        "base_unit": per_value(kinds, BASE_UNIT.get),
        "converted_across_kind": unit_kind[rows] != kinds,
        "cas_verified": verified[rows],
    }


def _repeats(columns: list[Coded], ok: np.ndarray) -> np.ndarray:
    """Rows still accepted that repeat an earlier accepted row field for field, as the loader reads
    them (the day and the amount as numbers, the text stripped: a CSV reader's leading spaces or
    a JSON client's `5.0` for `5` make no new record): one integer per distinct row, from the
    columns' codes."""
    out = np.zeros(len(ok), dtype=bool)
    rows = np.flatnonzero(ok)
    if len(rows) < 2:
        return out
    row_code, size = np.zeros(len(rows), dtype=np.int64), 1
    for column in columns:
        codes = column.distinct_codes()[rows].astype(np.int64)
        width = int(codes.max()) + 1
        if size * width >= 2**62:  # renumber first so the product stays an int64
            row_code, size = _renumbered(row_code)
        row_code, size = row_code * width + codes, size * width
    out[rows] = pd.Series(row_code).duplicated(keep="first").to_numpy()
    return out


def _renumbered(codes: np.ndarray) -> tuple[np.ndarray, int]:
    again, uniques = pd.factorize(codes)
    return again.astype(np.int64), len(uniques)


def _suspicious(checks: _FirstFailure, bad: np.ndarray, policy: str, reason: reasons.Reason, column: str,
                flags: dict, detail: str = "") -> None:
    """Rows that are suspicious rather than unreadable: failed, or kept and counted in `flags`."""
    if policy == "count":
        flags[reason.code] = flags.get(reason.code, 0) + int((np.asarray(bad, dtype=bool) & checks.ok).sum())
    else:
        checks.fail(bad, reason, column, detail)


def last_day(raw: pd.DataFrame, catalogue: Catalogue) -> int:
    """The log's last day: the largest valid `id`, quarantined rows included (they happened), ids
    beyond the catalogue's max_id excepted (a day no log reaches: a grid to it would not fit)."""
    days = Coded.of(raw["id"]).map(_day).uniques
    return max((d for d in days if d is not None and d <= catalogue.max_id), default=0)
