"""The chemical inventory log: generated or loaded, validated, converted to base units and
turned into daily usage series per chemical and laboratory.

Raw schema (exactly): id,amount_taken,unit,location,chemical,CAS,reason. `id` is the day
counter (day 1 = data.inventory.day_one). `initial purchase` rows add stock, `Experiment_N`
rows consume it. Whole-file problems (missing file or columns, no rows) stop the stage with an
error naming the file; row problems move the row to reports/data/inventory_quarantine.csv
with its reason and are counted in the metrics (first failing check per row).

Outputs under data/inventory/: log.csv (the raw log as generated or read), clean.parquet
(one row per accepted withdrawal/purchase, amounts in g or ml) and daily.parquet (one row per
chemical, location and day: used, purchased, experiments active, stock; zero on idle days).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts import quarantine as reasons
from pipeline.contracts.inventory import (CLEAN_FILE, DAILY_COLUMNS, DAILY_FILE, LOG_COLUMNS, LOG_FILE,
                                          PURCHASE)
from pipeline.core.config import origin_root
from pipeline.core.io import write_csv
from pipeline.core.validation import DataValidationError, Quarantine, require_columns
from pipeline.data.inventory.cas import cas_problem
from pipeline.data.inventory.generator import display_name, generate_log
from pipeline.data.inventory.units import BASE_UNIT, UNITS, to_base

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
    names stripped; an error for an unreadable CSV, missing columns or no rows."""
    try:
        df = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(name, f"not a readable CSV ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, LOG_COLUMNS, name)
    if df.empty:
        raise DataValidationError(name, "no data rows")
    return df


@dataclass(frozen=True)
class Catalogue:
    """The chemical catalogue rows are checked against, validated once (a bad entry is a config
    error): chemicals keyed by lower-case name, the allowed labs (None: any), day 1's date, the
    largest plausible amount of one row per tracked kind, and what happens to implausible amounts
    and exact duplicate rows (data.inventory.on_implausible / on_duplicate: quarantine | count)."""
    chemicals: dict[str, dict]
    locations: frozenset[str] | None
    day_one: pd.Timestamp
    plausible_max: dict[str, float] = field(default_factory=dict)
    on_implausible: str = "quarantine"
    on_duplicate: str = "quarantine"

    @classmethod
    def from_config(cls, icfg: Mapping) -> "Catalogue":
        """From data.inventory (a DictConfig, or the plain record a registered forecaster carries)."""
        chemicals = {}
        for key, entry in icfg["chemicals"].items():
            where = f"data.inventory.chemicals.{key}"
            name = display_name(key, entry)
            if entry["kind"] not in BASE_UNIT:
                raise ValueError(f"{where}.kind must be one of {sorted(BASE_UNIT)}, got {entry['kind']!r}")
            cas = entry.get("cas")
            if cas is not None and cas_problem(str(cas)):
                raise ValueError(f"{where}.cas {cas!r}: {cas_problem(str(cas)).sentence()}")
            density = entry.get("density_g_per_ml")
            if density is not None and not (float(density) > 0 and np.isfinite(float(density))):
                raise ValueError(f"{where}.density_g_per_ml must be a positive number or null, got {density!r}")
            if name.strip().lower() in chemicals:
                raise ValueError(f"{where}: name {name!r} appears twice in the catalogue")
            chemicals[name.strip().lower()] = {"name": name, "cas": cas, "kind": str(entry["kind"]),
                                               "density": float(density) if density is not None else None}
        locations = icfg.get("locations")
        limits = {str(k): float(v) for k, v in (icfg.get("plausible_max") or {}).items()}
        return cls(chemicals, frozenset(str(x) for x in locations) if locations else None,
                   pd.Timestamp(icfg["day_one"]), limits, str(icfg.get("on_implausible") or "quarantine"),
                   str(icfg.get("on_duplicate") or "quarantine"))


class Coded:
    """A column as codes into its distinct values, so that a rule runs once per distinct value
    (a log repeats a handful of units, labs, names and CAS numbers thousands of times)."""

    def __init__(self, codes: np.ndarray, uniques: np.ndarray):
        self.codes, self.uniques = codes, uniques

    @classmethod
    def of(cls, values: pd.Series | np.ndarray) -> "Coded":
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        return cls(codes, np.asarray(uniques, dtype=object))

    def map(self, rule: Callable[[object], object]) -> "Coded":
        """The column of rule(value), coded the same way."""
        return Coded(self.codes, np.fromiter(map(rule, self.uniques), dtype=object, count=len(self.uniques)))

    def values(self, rows: np.ndarray | None = None) -> np.ndarray:
        return self.uniques[self.codes if rows is None else self.codes[rows]]

    def flags(self, rule: Callable[[object], bool]) -> np.ndarray:
        """rule(value) per row, as booleans."""
        return self.map(rule).values().astype(bool)


def per_value(values: pd.Series | np.ndarray, rule: Callable[[object], object]) -> np.ndarray:
    """rule(value) per row, computed once per distinct value (an object array)."""
    return Coded.of(values).map(rule).values()


def _stripped(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _amount(text: object) -> tuple[float, reasons.Reason | None]:
    """(the amount, None) or (NaN, why it is refused)."""
    if not isinstance(text, str) or not text.strip():
        return math.nan, reasons.AMOUNT_MISSING
    try:
        value = float(text)
    except ValueError:
        return math.nan, reasons.AMOUNT_NOT_A_NUMBER
    if not math.isfinite(value):
        return math.nan, reasons.AMOUNT_NOT_FINITE
    if value < 0:
        return math.nan, reasons.AMOUNT_NEGATIVE
    return value, None


def _day(text: object) -> int | None:
    """The day number of an `id`, or None when it is not a whole number >= 1."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if math.isfinite(value) and value >= 1 and value == int(value) else None


def _is_purchase(reason: object) -> bool:
    return isinstance(reason, str) and reason.lower() == PURCHASE


def _is_experiment(reason: object) -> bool:
    return isinstance(reason, str) and EXPERIMENT.match(reason) is not None


class _FirstFailure:
    """Each row's first failing check (a row is judged by the first check it fails, in the order
    clean_log runs them), kept as arrays so every check runs on every row at once."""

    def __init__(self, n: int):
        self.reason = np.full(n, None, dtype=object)
        self.column = np.full(n, None, dtype=object)
        self.detail = np.full(n, "", dtype=object)

    @property
    def ok(self) -> np.ndarray:
        return np.equal(self.reason, None)

    def fail(self, bad: np.ndarray, reason: reasons.Reason, column: str, detail: str = "") -> None:
        hit = np.asarray(bad, dtype=bool) & self.ok
        self.reason[hit], self.column[hit], self.detail[hit] = reason, column, detail

    def fail_with(self, why: np.ndarray, column: str) -> None:
        """Rows whose entry in `why` is a reason (not None) fail with it."""
        hit = ~np.equal(why, None) & self.ok
        self.reason[hit], self.column[hit] = why[hit], column

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
    day_of, amount_text = Coded.of(raw["id"]).map(_day), Coded.of(raw["amount_taken"])
    text = {col: Coded.of(raw[col]).map(_stripped) for col in LOG_COLUMNS[2:]}  # unit ... reason
    unit, key = text["unit"], text["chemical"].map(_lower)
    checks = _FirstFailure(len(raw))
    checks.fail(np.equal(day_of.values(), None), reasons.ID_INVALID, "id")
    amount = amount_text.map(_amount)
    checks.fail_with(amount.map(itemgetter(1)).values(), "amount_taken")
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
    amount = amount.map(itemgetter(0)).values().astype(float)
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
    _suspicious(checks, _repeats(raw, text, checks.ok), catalogue.on_duplicate, reasons.DUPLICATE_RECORD, "", flags)
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


def _repeats(raw: pd.DataFrame, text: dict[str, Coded], ok: np.ndarray) -> np.ndarray:
    """Rows still accepted that repeat an earlier accepted row field for field (text stripped)."""
    out = np.zeros(len(raw), dtype=bool)
    rows = np.flatnonzero(ok)
    if len(rows) < 2:
        return out
    fields = pd.DataFrame({"id": raw["id"].to_numpy(object)[rows], "amount_taken": raw["amount_taken"].to_numpy(object)[rows],
                           **{col: text[col].values(rows) for col in LOG_COLUMNS[2:]}})
    out[rows] = fields.duplicated(keep="first").to_numpy()
    return out


def _suspicious(checks: _FirstFailure, bad: np.ndarray, policy: str, reason: reasons.Reason, column: str,
                flags: dict, detail: str = "") -> None:
    """Rows that are suspicious rather than unreadable: failed, or kept and counted in `flags`."""
    if policy == "count":
        flags[reason.code] = flags.get(reason.code, 0) + int((np.asarray(bad, dtype=bool) & checks.ok).sum())
    else:
        checks.fail(bad, reason, column, detail)


@dataclass
class DailyGrid:
    """Daily series as arrays: one row per (chemical, location), sorted, one column per day
    from `first_day` (day 1 = data.inventory.day_one)."""
    keys: list[tuple[str, str]]
    kind: list[str]
    base_unit: list[str]
    first_day: int
    dates: pd.DatetimeIndex
    used: np.ndarray          # [S, T] base units
    purchased: np.ndarray     # [S, T] base units
    experiments: np.ndarray   # [S, T] int, distinct experiments that used it
    stock: np.ndarray         # [S, T] base units, end of day

    def since(self, day: int) -> "DailyGrid":
        """The days from `day` on."""
        cut = slice(day - self.first_day, None)
        return DailyGrid(self.keys, self.kind, self.base_unit, day, self.dates[cut], self.used[:, cut],
                         self.purchased[:, cut], self.experiments[:, cut], self.stock[:, cut])


def daily_grid(clean: Mapping[str, Sequence], day_one: str | pd.Timestamp, days: int | None = None) -> DailyGrid:
    """The daily series of `clean` (clean_log's table, or check_log's arrays) from day 1 to the
    last day (`days`, default its last row's): used and purchased in base units, distinct
    experiments active, stock on hand; zero on days without rows."""
    col = {name: np.asarray(clean[name]) for name in
           ("chemical", "location", "kind", "base_unit", "day", "is_purchase", "amount_base", "reason")}
    if not len(col["day"]):
        raise ValueError("no clean rows left to build daily series from (see the quarantine file)")
    last = int(days) if days else int(col["day"].max())
    chem, loc = Coded.of(col["chemical"]), Coded.of(col["location"])
    pair, first, which = np.unique(chem.codes.astype(np.int64) * len(loc.uniques) + loc.codes,
                                   return_index=True, return_inverse=True)
    found = [(str(chem.uniques[p // len(loc.uniques)]), str(loc.uniques[p % len(loc.uniques)])) for p in pair]
    order = sorted(range(len(found)), key=found.__getitem__)
    keys = [found[i] for i in order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    series = rank[which]  # each row's index into keys
    day = col["day"]
    cell = series * last + day - 1  # one integer per (series, day)
    purchase, shown = col["is_purchase"].astype(bool), day <= last
    use, bought = ~purchase & shown, purchase & shown
    # pandas sums each cell's rows in row order (compensated): the stage's numbers, to the bit
    amount, reason = pd.Series(col["amount_base"], dtype=float), pd.Series(col["reason"], dtype=object)
    totals = {"used": amount[use].groupby(cell[use]).sum(),
              "experiments": reason[use].groupby(cell[use]).nunique(),
              "purchased": amount[bought].groupby(cell[bought]).sum()}
    grids = {}
    for name, total in totals.items():
        grid = np.zeros(len(keys) * last)
        grid[total.index.to_numpy()] = total.to_numpy(float)
        grids[name] = grid.reshape(len(keys), last)
    dates = pd.DatetimeIndex(pd.Timestamp(day_one) + pd.to_timedelta(np.arange(last), unit="D"))
    return DailyGrid(keys, [str(k) for k in col["kind"][first[order]]], [str(u) for u in col["base_unit"][first[order]]],
                     1, dates, grids["used"], grids["purchased"], grids["experiments"].astype(int),
                     np.cumsum(grids["purchased"] - grids["used"], axis=1))


def daily_series(clean: pd.DataFrame, day_one: str, days: int | None = None) -> pd.DataFrame:
    """daily_grid as a table: one row per (chemical, location, day) (data/inventory/daily.parquet)."""
    g = daily_grid(clean, day_one, days)
    n_days = len(g.dates)
    each = {name: np.repeat(np.asarray(values, dtype=object), n_days)
            for name, values in (("chemical", [c for c, _ in g.keys]), ("location", [loc for _, loc in g.keys]),
                                 ("kind", g.kind), ("base_unit", g.base_unit))}
    day = np.tile(np.arange(g.first_day, g.first_day + n_days), len(g.keys))
    daily = pd.DataFrame({**each, "day": day, "used": g.used.ravel(), "purchased": g.purchased.ravel(),
                          "experiments": g.experiments.ravel(), "stock": g.stock.ravel()})
    daily.insert(4, "date", pd.Timestamp(day_one) + pd.to_timedelta(daily["day"] - 1, unit="D"))
    assert list(daily.columns) == DAILY_COLUMNS, "daily series out of step with pipeline/contracts/inventory.py"
    return daily


def last_day(raw: pd.DataFrame) -> int:
    """The log's last day: the largest valid `id`, quarantined rows included (they happened)."""
    return max((d for d in Coded.of(raw["id"]).map(_day).uniques if d is not None), default=0)


def resolve_path(path: str) -> Path:
    """A configured path, relative to the user's repository root unless absolute."""
    p = Path(path)
    return p if p.is_absolute() else origin_root() / p


def load_raw(icfg: DictConfig, seed: int) -> tuple[pd.DataFrame, str]:
    """The raw log as strings and the name of its source (for the quarantine file)."""
    if icfg.source == "generated":
        log = generate_log(icfg, seed)
        return log.astype(str), "generated"
    if icfg.source == "file":
        if not icfg.get("path"):
            raise ValueError("data.inventory.path: required when data.inventory.source is 'file'")
        file = resolve_path(str(icfg.path))
        return read_log(file), str(file.resolve())
    raise ValueError(f"data.inventory.source must be 'generated' or 'file', got {icfg.source!r}")


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Stage body of `python -m pipeline.data inventory`."""
    icfg = cfg.data.inventory
    raw, source = load_raw(icfg, int(cfg.seed))
    quarantine = Quarantine(source)
    flags: dict = {}
    clean = clean_log(raw, Catalogue.from_config(icfg), quarantine, flags)
    days = int(icfg.days) if icfg.source == "generated" else last_day(raw)
    daily = daily_series(clean, icfg.day_one, days)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(raw, out_dir / LOG_FILE)  # the raw log, echoed: cells that would start a formula neutralised
    clean.to_parquet(out_dir / CLEAN_FILE, index=False)
    daily.to_parquet(out_dir / DAILY_FILE, index=False)
    quarantine.write(reports_dir / "inventory_quarantine.csv")
    return summarise(raw, clean, daily, quarantine, source, flags)


def summarise(raw: pd.DataFrame, clean: pd.DataFrame, daily: pd.DataFrame, quarantine: Quarantine,
              source: str, flags: dict | None = None) -> dict:
    last_stock = daily.groupby(["chemical", "location"])["stock"].min()
    cas_per_chem = clean.groupby("chemical")["cas"].nunique()
    return {
        "source": source,
        "raw_rows": len(raw),
        "clean_rows": len(clean),
        "purchase_rows": int(clean["is_purchase"].sum()),
        "consumption_rows": int((~clean["is_purchase"]).sum()),
        "rows_converted_across_kind": int(clean["converted_across_kind"].sum()),
        "rows_cas_unverified": int((~clean["cas_verified"]).sum()),
        "max_cas_numbers_per_chemical": int(cas_per_chem.max()),
        "days": int(daily["day"].max()),
        "chemicals": int(clean["chemical"].nunique()),
        "series": int(len(last_stock)),
        "series_with_negative_stock": int((last_stock < -1e-9).sum()),
        "zero_use_day_share": float((daily["used"] == 0).mean()),
        "flagged_but_kept": dict(sorted((flags or {}).items())),
        **quarantine.metrics(len(raw), len(clean)),
    }
