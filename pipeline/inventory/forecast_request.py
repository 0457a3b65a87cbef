"""One forecast request against a loaded forecaster: a usage log (the raw rows) or a daily
series in, the next days' forecast, reorder point and reorder-now out. Input is checked by
the very functions the pipeline's loader uses; anything they would quarantine refuses the
request with every row, column and reason (a reorder decision is not made on part of a log).
Plain functions: the HTTP service (service.py) and the tests call them.
"""
from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from pipeline.core.validation import DataValidationError, Quarantine, require_columns
from pipeline.contracts.inventory import LOG_COLUMNS as COLUMNS
from pipeline.data.inventory.stage import clean_log, daily_series, last_day
from pipeline.data.inventory.units import BASE_UNIT
from pipeline.inventory import reorder
from pipeline.inventory.bundle import Forecaster
from pipeline.inventory.features import LONGEST_WINDOW_DAYS, build_series

SOURCE = "request"


class RequestError(ValueError):
    """A request the forecaster cannot answer: HTTP `status`, a message, and the failing rows."""

    def __init__(self, message: str, status: int = 422, rows: list[dict] | None = None):
        super().__init__(message)
        self.status, self.rows = status, rows or []


def min_history_days(model: Forecaster) -> int:
    """Days of log the newest window's features need (window + the longest feature window)."""
    return model.seq_len + LONGEST_WINDOW_DAYS - 1


def _day_one(model: Forecaster) -> pd.Timestamp:
    return pd.Timestamp(model.catalogue["day_one"])


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    """JSON rows as the loader reads a CSV: every value a string, missing or empty as NA."""
    frame = pd.DataFrame([{str(k).strip(): (None if v is None or str(v).strip() == "" else str(v))
                           for k, v in r.items()} for r in rows])
    return frame.astype(object).where(frame.notna(), np.nan)


def daily_from_log(model: Forecaster, raw: pd.DataFrame, as_of: date | None) -> pd.DataFrame:
    """The loader's checks and daily aggregation on the request's rows, from its first day to `as_of`."""
    try:
        require_columns(raw, COLUMNS, SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    if raw.empty:
        raise RequestError("request: no rows")
    icfg = OmegaConf.create({k: model.catalogue[k] for k in ("chemicals", "locations", "day_one")})
    quarantine = Quarantine(SOURCE)
    clean = clean_log(raw, icfg, quarantine)
    if quarantine.total:
        bad = quarantine.table()[["source_row", "column", "reason"]].rename(columns={"source_row": "row"})
        raise RequestError(f"request: {quarantine.total} row(s) fail the inventory loader's checks "
                           "(row = line of a CSV with its header as line 1; rows[row - 2] of JSON)",
                           rows=bad.to_dict("records"))
    last = last_day(raw) if as_of is None else (pd.Timestamp(as_of) - _day_one(model)).days + 1
    if int(clean["day"].max()) > last:
        raise RequestError(f"request: rows after as_of {as_of} (day {last}); leave them out or move as_of")
    daily = daily_series(clean, model.catalogue["day_one"], last)
    first = int(clean["day"].min())
    return daily[daily["day"] >= first].reset_index(drop=True)


def daily_from_series(model: Forecaster, series: pd.DataFrame) -> pd.DataFrame:
    """A daily series (date, chemical, location, used, experiments[, purchased][, stock]) in the
    chemical's base unit, as the pipeline's daily file; days without a row used nothing."""
    try:
        require_columns(series, ["date", "chemical", "location", "used", "experiments"], SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    names = {str(v.get("name") or k).lower(): (str(v.get("name") or k), str(v["kind"]))
             for k, v in model.catalogue["chemicals"].items()}
    unknown = sorted({c for c in series["chemical"] if str(c).lower() not in names})
    if unknown:
        raise RequestError(f"request: chemical(s) {unknown} not in the model's catalogue")
    s = series.assign(chemical=[names[str(c).lower()][0] for c in series["chemical"]],
                      date=pd.to_datetime(series["date"]).dt.normalize())
    if s.duplicated(["chemical", "location", "date"]).any():
        raise RequestError("request: a (date, chemical, location) appears twice in the series")
    day_one = _day_one(model)
    frames = []
    for (chem, loc), part in s.groupby(["chemical", "location"], sort=True):
        dates = pd.date_range(s["date"].min(), s["date"].max(), freq="D")
        part = part.set_index("date").reindex(dates)
        used = part["used"].fillna(0.0).to_numpy(float)
        bought = part["purchased"].fillna(0.0).to_numpy(float) if "purchased" in part else np.zeros(len(dates))
        given = part["stock"].ffill() if "stock" in part else None
        stock = given.to_numpy(float) if given is not None and given.notna().all() else np.cumsum(bought - used)
        kind = names[chem.lower()][1]
        frames.append(pd.DataFrame({"chemical": chem, "location": loc, "kind": kind, "base_unit": BASE_UNIT[kind],
                                    "date": dates, "day": (dates - day_one).days + 1, "used": used,
                                    "purchased": bought, "experiments": part["experiments"].fillna(0).to_numpy(int),
                                    "stock": stock}))
    return pd.concat(frames, ignore_index=True)


def forecast(model: Forecaster, daily: pd.DataFrame, days: int | None = None,
             stock_on_hand: dict[tuple[str, str], float] | None = None) -> dict:
    """Forecast, reorder point and reorder-now per (chemical, location) of `daily`."""
    trained = {tuple(k) for k in model.selection["keys"]}
    keys = sorted(set(daily[["chemical", "location"]].itertuples(index=False, name=None)))
    untrained = [f"{c} at {loc}" for c, loc in keys if (c, loc) not in trained]
    if untrained:
        raise RequestError(f"request: the model was not trained on {untrained}; it knows "
                           f"{sorted(f'{c} at {loc}' for c, loc in trained)}")
    n_days = daily["date"].nunique()
    if n_days < min_history_days(model):
        raise RequestError(f"request: {n_days} day(s) of history; the model needs at least "
                           f"{min_history_days(model)} (its {model.seq_len}-day window and {LONGEST_WINDOW_DAYS}-day features)")
    position = {tuple(k): i for i, k in enumerate(model.selection["keys"])}
    scale = np.array([model.selection["scale"][position[k]] for k in keys])
    cfg = model.selection["config"]
    data = build_series(daily, cfg["split"], scale=scale)
    data = dataclasses.replace(
        data, chemicals=model.chemicals, locations=model.locations,
        chem_index=np.array([model.chemicals.index(c) for c, _ in keys], dtype=np.int64),
        loc_index=np.array([model.locations.index(loc) for _, loc in keys], dtype=np.int64))
    for key, amount in (stock_on_hand or {}).items():
        if key not in keys:
            raise RequestError(f"request: stock_on_hand for {key[0]} at {key[1]}, which has no rows")
        data.stock[keys.index(key), -1] = float(amount)
    r = model.catalogue["reorder"]
    future = reorder.predict_with(data, model.selection, model.lstm, model.linear)
    try:
        table, per_day = reorder.reorder_table(data, future, model.selection, int(days or r["default_days"]),
                                               int(r["lead_time_days"]), float(r["service_level"]))
    except ValueError as exc:
        raise RequestError(str(exc).replace("--days", "days")) from exc
    out = []
    for row in table.to_dict("records"):
        mine = per_day[(per_day.chemical == row["chemical"]) & (per_day.location == row["location"])]
        days_of_supply = row["days_of_supply"]
        out.append({**row, "days_of_supply": None if not np.isfinite(days_of_supply) else days_of_supply,
                    "forecast": [{"date": d, "amount": a} for d, a in zip(mine["date"], mine["forecast"])]})
    return {"model": {"name": model.name, "version": model.version, "uri": model.uri},
            "as_of": str(data.dates[-1].date()), "history_days": int(n_days), "series": out}
