"""One forecast request against a loaded forecaster: a usage log (the raw rows) or a daily
series in, the next days' forecast, reorder point and reorder-now out. Input is checked by
the very functions the pipeline's loader uses; anything they would quarantine refuses the
request with every row, column and reason (a reorder decision is not made on part of a log).
Only the request's own rows are checked and aggregated, straight to the day grid the features
are built on. Plain functions: the HTTP service (service.py) and the tests call them.
"""
from __future__ import annotations

import dataclasses
import io
from datetime import date

import numpy as np
import pandas as pd

from pipeline.contracts.inventory import LOG_COLUMNS
from pipeline.core.validation import DataValidationError, Quarantine, require_columns
from pipeline.data.inventory.stage import DailyGrid, check_log, daily_grid, parse_log
from pipeline.data.inventory.units import BASE_UNIT
from pipeline.inventory import reorder
from pipeline.inventory.features import LONGEST_WINDOW_DAYS, series_set
from pipeline.inventory.forecaster import ServedUsageForecaster

SOURCE = "request"


class RequestError(ValueError):
    """A request the forecaster cannot answer: HTTP `status`, a message, and the failing rows."""

    def __init__(self, message: str, status: int = 422, rows: list[dict] | None = None):
        super().__init__(message)
        self.status, self.rows = status, rows or []


def min_history_days(model: ServedUsageForecaster) -> int:
    """Days of log the newest window's features need (window + the longest feature window)."""
    return model.seq_len + LONGEST_WINDOW_DAYS - 1


def _as_text(value: object) -> object:
    """A JSON value as a CSV cell reads: its text, or NA when missing or blank."""
    return np.nan if value is None or str(value).strip() == "" else str(value)


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    """JSON rows as the loader reads a CSV: every value a string; a missing key, null or NaN is NA.
    (A blank string and NA fail the loader's checks alike, so text columns go through as they are.)"""
    frame = pd.DataFrame(rows, dtype=object)  # as given: converting to Arrow strings costs more than it saves
    names = [str(c).strip() for c in frame.columns]
    if len(set(names)) < len(names):
        raise RequestError(f"request: column names repeat once spaces are stripped: {list(frame.columns)}")
    frame.columns = names
    for col in names:
        if pd.api.types.infer_dtype(frame[col], skipna=True) not in ("string", "empty"):
            frame[col] = pd.Series([_as_text(v) for v in frame[col]], index=frame.index, dtype=object)
    return frame


def csv_frame(body: bytes) -> pd.DataFrame:
    """A CSV body read as the loader reads a log file."""
    try:
        return parse_log(io.BytesIO(body), SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc


def daily_from_log(model: ServedUsageForecaster, raw: pd.DataFrame, as_of: date | None) -> DailyGrid:
    """The loader's checks and daily aggregation on the request's rows, from its first day to `as_of`."""
    try:
        require_columns(raw, LOG_COLUMNS, SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    if raw.empty:
        raise RequestError("request: no rows")
    quarantine = Quarantine(SOURCE)
    clean = check_log(raw, model.checks, quarantine)
    if quarantine.total:
        bad = quarantine.rows()[["source_row", "column", "reason", "reason_text"]].rename(columns={"source_row": "row"})
        raise RequestError(f"request: {quarantine.total} row(s) fail the inventory loader's checks "
                           "(row = line of a CSV with its header as line 1; rows[row - 2] of JSON)",
                           rows=bad.to_dict("records"))
    # last_day(raw) counts quarantined rows too; a request with any is refused above
    last = int(clean["day"].max()) if as_of is None else (pd.Timestamp(as_of) - model.checks.day_one).days + 1
    if int(clean["day"].max()) > last:
        raise RequestError(f"request: rows after as_of {as_of} (day {last}); leave them out or move as_of")
    return daily_grid(clean, model.checks.day_one, last).since(int(clean["day"].min()))


def daily_from_series(model: ServedUsageForecaster, series: pd.DataFrame) -> DailyGrid:
    """A daily series (date, chemical, location, used, experiments[, purchased][, stock]) in the
    chemical's base unit, as the pipeline's daily file; days without a row used nothing."""
    try:
        require_columns(series, ["date", "chemical", "location", "used", "experiments"], SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    names = {key: (entry["name"], entry["kind"]) for key, entry in model.checks.chemicals.items()}
    unknown = sorted({c for c in series["chemical"] if str(c).lower() not in names})
    if unknown:
        raise RequestError(f"request: chemical(s) {unknown} not in the model's catalogue")
    s = series.assign(chemical=[names[str(c).lower()][0] for c in series["chemical"]],
                      date=pd.to_datetime(series["date"]).dt.normalize())
    if s.duplicated(["chemical", "location", "date"]).any():
        raise RequestError("request: a (date, chemical, location) appears twice in the series")
    dates = pd.date_range(s["date"].min(), s["date"].max(), freq="D")
    keys, kinds, grids = [], [], {"used": [], "purchased": [], "experiments": [], "stock": []}
    for (chem, loc), part in s.groupby(["chemical", "location"], sort=True):
        part = part.set_index("date").reindex(dates)
        used = part["used"].fillna(0.0).to_numpy(float)
        bought = part["purchased"].fillna(0.0).to_numpy(float) if "purchased" in part else np.zeros(len(dates))
        given = part["stock"].ffill() if "stock" in part else None
        keys.append((chem, loc))
        kinds.append(names[chem.lower()][1])
        grids["used"].append(used)
        grids["purchased"].append(bought)
        grids["experiments"].append(part["experiments"].fillna(0).to_numpy(int))
        grids["stock"].append(given.to_numpy(float) if given is not None and given.notna().all()
                              else np.cumsum(bought - used))
    first = (dates[0] - model.checks.day_one).days + 1
    return DailyGrid(keys, kinds, [BASE_UNIT[k] for k in kinds], first, dates,
                     *(np.stack(grids[n]) for n in ("used", "purchased", "experiments", "stock")))


def forecast(model: ServedUsageForecaster, daily: DailyGrid, days: int | None = None,
             stock_on_hand: dict[tuple[str, str], float] | None = None) -> dict:
    """Forecast, reorder point and reorder-now per (chemical, location) of `daily`."""
    keys = daily.keys
    untrained = [f"{c} at {loc}" for c, loc in keys if (c, loc) not in model.position]
    if untrained:
        raise RequestError(f"request: the model was not trained on {untrained}; it knows "
                           f"{sorted(f'{c} at {loc}' for c, loc in model.position)}")
    n_days = len(daily.dates)
    if n_days < min_history_days(model):
        raise RequestError(f"request: {n_days} day(s) of history; the model needs at least "
                           f"{min_history_days(model)} (its {model.seq_len}-day window and {LONGEST_WINDOW_DAYS}-day features)")
    cfg = model.selection["config"]
    data = series_set(keys, daily.base_unit, daily.dates, daily.used, daily.stock.copy(), daily.experiments,
                      daily.purchased, cfg["split"], scale=model.scale[[model.position[k] for k in keys]])
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
    n_ahead = int(days or r["default_days"])
    try:
        table, per_day = reorder.reorder_rows(data, future, model.selection, n_ahead,
                                              int(r["lead_time_days"]), float(r["service_level"]))
    except ValueError as exc:
        raise RequestError(str(exc).replace("--days", "days")) from exc
    out = []
    for i, row in enumerate(table):  # per_day: n_ahead rows per series, in table order
        days_of_supply = row["days_of_supply"]
        out.append({**row, "days_of_supply": None if not np.isfinite(days_of_supply) else days_of_supply,
                    "forecast": [{"date": f["date"], "amount": f["forecast"]}
                                 for f in per_day[i * n_ahead:(i + 1) * n_ahead]]})
    return {"model": {"name": model.name, "version": model.version, "uri": model.uri},
            "as_of": str(data.dates[-1].date()), "history_days": int(n_days), "series": out}
