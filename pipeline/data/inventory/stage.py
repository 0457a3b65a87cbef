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

import re
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts import quarantine as reasons
from pipeline.contracts.inventory import (CLEAN_FILE, DAILY_COLUMNS, DAILY_FILE, LOG_COLUMNS, LOG_FILE,
                                          PURCHASE)
from pipeline.core.config import origin_root
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
    try:
        df = pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(file, f"not a readable CSV ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, LOG_COLUMNS, file)
    if df.empty:
        raise DataValidationError(file, "no data rows")
    return df


def _catalogue(icfg: DictConfig) -> dict[str, dict]:
    """Catalogue keyed by lower-case name, validated (a bad entry is a config error)."""
    out = {}
    for key, entry in icfg.chemicals.items():
        where = f"data.inventory.chemicals.{key}"
        name = display_name(key, entry)
        if entry.kind not in BASE_UNIT:
            raise ValueError(f"{where}.kind must be one of {sorted(BASE_UNIT)}, got {entry.kind!r}")
        if entry.cas is not None and cas_problem(str(entry.cas)):
            raise ValueError(f"{where}.cas {entry.cas!r}: {cas_problem(str(entry.cas)).sentence()}")
        density = entry.get("density_g_per_ml")
        if density is not None and not (float(density) > 0 and np.isfinite(float(density))):
            raise ValueError(f"{where}.density_g_per_ml must be a positive number or null, got {density!r}")
        if name.strip().lower() in out:
            raise ValueError(f"{where}: name {name!r} appears twice in the catalogue")
        out[name.strip().lower()] = {"name": name, "cas": entry.cas, "kind": str(entry.kind),
                                          "density": float(density) if density is not None else None}
    return out


def _amount_reason(text: object) -> reasons.Reason | None:
    if not isinstance(text, str) or not text.strip():
        return reasons.AMOUNT_MISSING
    try:
        value = float(text)
    except ValueError:
        return reasons.AMOUNT_NOT_A_NUMBER
    if not np.isfinite(value):
        return reasons.AMOUNT_NOT_FINITE
    if value < 0:
        return reasons.AMOUNT_NEGATIVE
    return None


def _id_ok(text: object) -> bool:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(value) and value >= 1 and value == int(value))


def _equals(values: pd.Series, value) -> pd.Series:
    """values == value as plain booleans (a missing value is not equal; Quarantine.split
    would otherwise treat NA as bad)."""
    return pd.Series([v == value for v in values.astype(object)], index=values.index, dtype=bool)


def _flag(df: pd.DataFrame, bad: pd.Series, policy: str, reason: reasons.Reason, column: str,
          quarantine: Quarantine, flags: dict, detail: str = "") -> pd.DataFrame:
    """Rows that are suspicious rather than unreadable: quarantined, or kept and counted in
    `flags` (data.inventory.on_duplicate / on_implausible: quarantine | count)."""
    if policy == "count":
        flags[reason.code] = flags.get(reason.code, 0) + int(bad.sum())
        return df
    return quarantine.split(df, bad, reason, column, detail)


def clean_log(raw: pd.DataFrame, icfg: DictConfig, quarantine: Quarantine, flags: dict | None = None) -> pd.DataFrame:
    """Validate and convert the raw log; bad rows go to `quarantine` with their reason. Exact
    duplicates and implausible amounts are quarantined or, by config, kept and counted in `flags`."""
    flags = {} if flags is None else flags
    catalogue = _catalogue(icfg)
    cas_owner = {str(e["cas"]): key for key, e in catalogue.items() if e["cas"]}
    locations = {str(x) for x in icfg.locations} if icfg.get("locations") else None
    # The raw `reason` column is renamed while we work: Quarantine adds its own `reason`.
    df = raw[LOG_COLUMNS].rename(columns={"reason": LOG_REASON})
    for col in [*LOG_COLUMNS[2:-1], LOG_REASON]:
        df[col] = df[col].map(lambda v: v.strip() if isinstance(v, str) and v.strip() else None).astype(object)
    df = quarantine.split(df, ~df["id"].map(_id_ok), reasons.ID_INVALID, "id")
    amount_reason = df["amount_taken"].map(_amount_reason)
    for reason in (reasons.AMOUNT_MISSING, reasons.AMOUNT_NOT_A_NUMBER, reasons.AMOUNT_NOT_FINITE,
                   reasons.AMOUNT_NEGATIVE):
        df = quarantine.split(df, _equals(amount_reason.loc[df.index], reason), reason, "amount_taken")
    df = quarantine.split(df, ~df["unit"].isin(list(UNITS)), reasons.UNIT_UNKNOWN, "unit", f"({', '.join(UNITS)})")
    if locations is not None:
        df = quarantine.split(df, ~df["location"].isin(locations), reasons.LOCATION_UNKNOWN, "location",
                              str(sorted(locations)))
    key = df["chemical"].str.lower()
    df = quarantine.split(df, ~key.isin(list(catalogue)), reasons.CHEMICAL_UNKNOWN, "chemical")
    cas_reason = df["CAS"].map(lambda v: cas_problem(v if isinstance(v, str) else None))
    for reason in sorted(set(cas_reason.dropna()), key=lambda r: r.code):
        df = quarantine.split(df, _equals(cas_reason.loc[df.index], reason), reason, "CAS")
    key = df["chemical"].str.lower()
    expected = key.map(lambda k: catalogue[k]["cas"])
    owner = df["CAS"].map(lambda c: cas_owner.get(str(c)))
    conflict = (expected.notna() & (expected.astype(str) != df["CAS"])) | (owner.notna() & (owner != key))
    df = quarantine.split(df, conflict, reasons.CAS_NAME_CONFLICT, "CAS")
    is_purchase = df[LOG_REASON].str.lower() == PURCHASE
    is_experiment = df[LOG_REASON].fillna("").str.match(EXPERIMENT.pattern, case=False)
    df = quarantine.split(df, ~(is_purchase | is_experiment), reasons.LOG_REASON_UNKNOWN, "reason")
    key = df["chemical"].str.lower()
    kind = key.map(lambda k: catalogue[k]["kind"])
    density = [catalogue[k]["density"] for k in key]  # a list: pandas would turn None into NA
    amount = df["amount_taken"].astype(float)
    base = [to_base(a, u, k, d) for a, u, k, d in zip(amount, df["unit"], kind, density)]
    base = pd.Series(base, index=df.index, dtype=float)
    unit_kind = df["unit"].map(lambda u: UNITS[u][0])
    for have, tracked, reason in (("mass", "volume", reasons.MASS_WITHOUT_DENSITY),
                                  ("volume", "mass", reasons.VOLUME_WITHOUT_DENSITY)):
        idx = df.index
        bad = base.loc[idx].isna() & (unit_kind.loc[idx] == have) & (kind.loc[idx] == tracked)
        df = quarantine.split(df, bad, reason, "unit")
    limits = {str(k): float(v) for k, v in (icfg.get("plausible_max") or {}).items()}
    for tracked, limit in limits.items():
        idx = df.index
        bad = (kind.loc[idx] == tracked) & (base.loc[idx] > limit)
        df = _flag(df, bad, str(icfg.get("on_implausible", "quarantine")), reasons.AMOUNT_IMPLAUSIBLE, "amount_taken",
                   quarantine, flags, f"({limit:g} {BASE_UNIT[tracked]} for a {tracked})")
    duplicate = df.duplicated(list(df.columns), keep="first")
    df = _flag(df, duplicate, str(icfg.get("on_duplicate", "quarantine")), reasons.DUPLICATE_RECORD, "",
               quarantine, flags)
    idx = df.index
    key = key.loc[idx]
    day = df["id"].astype(float).astype(int)
    out = pd.DataFrame({
        "source_row": idx + 2,
        "day": day,
        "date": pd.Timestamp(icfg.day_one) + pd.to_timedelta(day - 1, unit="D"),
        "chemical": key.map(lambda k: catalogue[k]["name"]),
        "location": df["location"].astype(str),
        "cas": df["CAS"].astype(str),
        "reason": df[LOG_REASON].astype(str),
        "is_purchase": (df[LOG_REASON].str.lower() == PURCHASE).astype(bool),
        "amount": amount.loc[idx].to_numpy(),
        "unit": df["unit"].astype(str),
        "kind": kind.loc[idx],
        "amount_base": base.loc[idx].to_numpy(),
        "base_unit": kind.loc[idx].map(BASE_UNIT),
        "converted_across_kind": (unit_kind.loc[idx] != kind.loc[idx]).to_numpy(),
        "cas_verified": expected.loc[idx].notna().to_numpy(),
    }, index=idx)
    return out.sort_values(["day", "source_row"], kind="stable").reset_index(drop=True)


def daily_series(clean: pd.DataFrame, day_one: str, days: int | None = None) -> pd.DataFrame:
    """One row per (chemical, location, day) from day 1 to the last day: used and purchased
    in base units, distinct experiments active, stock on hand; zero on days without rows."""
    last = int(days) if days else int(clean["day"].max())
    if clean.empty:
        raise ValueError("no clean rows left to build daily series from (see the quarantine file)")
    use = clean[~clean["is_purchase"]]
    agg = pd.DataFrame({
        "used": use.groupby(["chemical", "location", "day"])["amount_base"].sum(),
        "experiments": use.groupby(["chemical", "location", "day"])["reason"].nunique(),
    })
    bought = clean[clean["is_purchase"]].groupby(["chemical", "location", "day"])["amount_base"].sum()
    agg = agg.join(bought.rename("purchased"), how="outer")
    pairs = clean[["chemical", "location", "kind", "base_unit"]].drop_duplicates(["chemical", "location"])
    frames = []
    for (chem, loc, kind, unit) in sorted(pairs.itertuples(index=False, name=None)):
        part = agg.loc[(chem, loc)] if (chem, loc) in agg.index.droplevel(2) else agg.iloc[:0]
        part = part.reindex(range(1, last + 1)).fillna(0.0)
        frame = pd.DataFrame({"chemical": chem, "location": loc, "kind": kind, "base_unit": unit,
                              "day": np.arange(1, last + 1),
                              "used": part["used"].to_numpy(float),
                              "purchased": part["purchased"].to_numpy(float),
                              "experiments": part["experiments"].to_numpy(float).astype(int)})
        frame["stock"] = (frame["purchased"] - frame["used"]).cumsum()
        frames.append(frame)
    daily = pd.concat(frames, ignore_index=True)
    daily.insert(4, "date", pd.Timestamp(day_one) + pd.to_timedelta(daily["day"] - 1, unit="D"))
    assert list(daily.columns) == DAILY_COLUMNS, "daily series out of step with pipeline/contracts/inventory.py"
    return daily


def last_day(raw: pd.DataFrame) -> int:
    """The log's last day: the largest valid `id`, quarantined rows included (they happened)."""
    ids = pd.to_numeric(raw["id"], errors="coerce")
    ids = ids[raw["id"].map(_id_ok)]
    return int(ids.max()) if len(ids) else 0


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
    clean = clean_log(raw, icfg, quarantine, flags)
    days = int(icfg.days) if icfg.source == "generated" else last_day(raw)
    daily = daily_series(clean, icfg.day_one, days)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw.to_csv(out_dir / LOG_FILE, index=False)
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
