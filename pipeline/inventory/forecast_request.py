"""One forecast request against a loaded forecaster: a usage log (the raw rows) or a daily
series in, the next days' forecast, reorder point and reorder-now out.

Raw rows are judged by the one rule set of pipeline/contracts/inventory with the limits the
model's bundle carries (the catalogue prepare_inventory judged its training rows with): a row
the stage would quarantine refuses the request with its row, column and reason (a reorder
decision is not made on part of a log). Every size a request can choose is bounded
(RequestLimits, conf/serve/inventory.yaml `limits`): how far `as_of` may lie after the log, the
calendar a series may span, the amounts and counts of a day, the stock; and no reply repeats
more than a bounded sample of what was sent. Plain functions: the HTTP service (service.py) and
the tests call them.
"""
from __future__ import annotations

import dataclasses
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline.contracts.inventory import LOG_COLUMNS
from pipeline.contracts.inventory.daily import DailyGrid, daily_grid
from pipeline.contracts.inventory.rules import check_log, parse_log, strip_names
from pipeline.contracts.inventory.units import BASE_UNIT
from pipeline.core.validation import DataValidationError, Quarantine, require_columns
from pipeline.inventory import reorder
from pipeline.inventory.features import LONGEST_WINDOW_DAYS, series_set
from pipeline.inventory.forecaster import ServedUsageForecaster

SOURCE = "request"
SHOWN_VALUES, SHOWN_CHARS = 5, 60   # a message names at most this many of the request's values, each cut here


@dataclass(frozen=True)
class RequestLimits:
    """What one request may ask for (serve.limits): the sizes it chooses and the physical range
    of the numbers it sends. Values in the chemical's base unit (g or ml)."""
    days_after_log: int            # as_of at most this many days after the log's last row
    max_amount_per_day: float      # a series' used / purchased on one day
    max_experiments_per_day: int   # a series' distinct experiments on one day
    max_stock: float               # |stock| of a series day; stock_on_hand in [0, max_stock]
    max_error_rows: int            # failing rows a 422 lists (all are counted)

    @classmethod
    def from_config(cls, limits: Mapping) -> "RequestLimits":
        return cls(int(limits["days_after_log"]), float(limits["max_amount_per_day"]),
                   int(limits["max_experiments_per_day"]), float(limits["max_stock"]), int(limits["max_error_rows"]))


class RequestError(ValueError):
    """A request the forecaster cannot answer: HTTP `status`, a message, and the failing rows."""

    def __init__(self, message: str, status: int = 422, rows: list[dict] | None = None,
                 counts: dict[str, int] | None = None):
        super().__init__(message)
        self.status, self.rows, self.counts = status, rows or [], counts or {}


def shown(values: Iterable[object]) -> str:
    """A bounded sample of the request's own values for a message: a few, each cut short."""
    values = list(values)
    cut = [repr(v if len(str(v)) <= SHOWN_CHARS else f"{str(v)[:SHOWN_CHARS]}...") for v in values[:SHOWN_VALUES]]
    more = f" and {len(values) - SHOWN_VALUES} more" if len(values) > SHOWN_VALUES else ""
    return f"[{', '.join(cut)}{more}]"


def min_history_days(model: ServedUsageForecaster) -> int:
    """Days of log the newest window's features need (window + the longest feature window)."""
    return model.seq_len + LONGEST_WINDOW_DAYS - 1


def _as_text(value: object) -> object:
    """A JSON value as a CSV cell reads: its text, or NA when missing or blank."""
    return np.nan if value is None or str(value).strip() == "" else str(value)


def _keys(rows: list[dict]) -> list[str]:
    """Every key of the rows, in order of first appearance. Usually every row has the first row's
    keys: a set union (C) proves it, at a quarter of the cost of walking every key in order."""
    first = list(rows[0]) if rows else []
    if len(set().union(*rows)) == len(first):
        return first
    return list(dict.fromkeys(chain.from_iterable(rows)))


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    """JSON rows as the loader reads a CSV: every value a string; a missing key, null or blank is NA.
    (A blank string and NA fail the loader's checks alike, so text columns go through as they are.)
    Object columns, not pandas' Arrow strings: for a request's few thousand rows the conversion
    costs more than it saves."""
    names = _keys(rows)
    try:
        stripped = strip_names(names, SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    wanted = {strip: name for name, strip in zip(names, stripped) if strip in LOG_COLUMNS}
    frame = {}
    for strip, name in wanted.items():
        try:
            column = np.fromiter(map(itemgetter(name), rows), dtype=object, count=len(rows))
        except KeyError:  # not in every row: NA there
            column = np.fromiter((row.get(name) for row in rows), dtype=object, count=len(rows))
        if pd.api.types.infer_dtype(column, skipna=False) != "string":
            column = np.fromiter(map(_as_text, column), dtype=object, count=len(rows))
        frame[strip] = column
    return pd.DataFrame(frame, index=pd.RangeIndex(len(rows)), dtype=object)


def csv_frame(body: bytes) -> pd.DataFrame:
    """A CSV body read as the loader reads a log file."""
    try:
        return parse_log(io.BytesIO(body), SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc


def _refused_rows(quarantine: Quarantine, limits: RequestLimits) -> RequestError:
    bad = quarantine.rows()[["source_row", "column", "reason", "reason_text"]].rename(columns={"source_row": "row"})
    counts = dict(Counter(bad["reason"]).most_common())
    listed = bad.head(limits.max_error_rows)
    return RequestError(f"request: {len(bad)} row(s) fail the inventory loader's checks {counts}; "
                        f"{'all' if len(listed) == len(bad) else f'the first {len(listed)}'} listed (row = line of a "
                        "CSV with its header as line 1; rows[row - 2] of JSON)",
                        rows=listed.to_dict("records"), counts=counts)


def daily_from_log(model: ServedUsageForecaster, raw: pd.DataFrame, as_of: date | None, limits: RequestLimits) -> DailyGrid:
    """The loader's checks and daily aggregation on the request's rows, from its first day to `as_of`
    (default: its last row's day; at most limits.days_after_log later)."""
    try:
        require_columns(raw, LOG_COLUMNS, SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    if raw.empty:
        raise RequestError("request: no rows")
    quarantine = Quarantine(SOURCE)
    clean = check_log(raw, model.checks, quarantine)
    if quarantine.total:
        raise _refused_rows(quarantine, limits)
    last_row = int(clean["day"].max())
    last = last_row if as_of is None else model.checks.day(as_of)
    if last < last_row:
        raise RequestError(f"request: rows after as_of {as_of} (day {last}); the log's last row is day {last_row}: "
                           "leave the later rows out or move as_of")
    if last > last_row + limits.days_after_log:
        end = model.checks.day_one.date() + timedelta(days=last_row - 1)
        raise RequestError(f"request: as_of {as_of} is {last - last_row} days after the log's last row ({end}); "
                           f"at most {limits.days_after_log} (serve.limits.days_after_log): a forecast needs the "
                           "recent days in the log")
    return daily_grid(clean, model.checks.day_one, last).since(int(clean["day"].min()))


def daily_from_series(model: ServedUsageForecaster, series: pd.DataFrame) -> DailyGrid:
    """A daily series (date, chemical, location, used, experiments[, purchased][, stock]) in the
    chemical's base unit, as the pipeline's daily file (values already range-checked by the
    request schema); days without a row used nothing. Its dates lie on the days a log may hold
    (day 1 to the catalogue's max_id)."""
    try:
        require_columns(series, ["date", "chemical", "location", "used", "experiments"], SOURCE)
    except DataValidationError as exc:
        raise RequestError(str(exc)) from exc
    first, last = model.checks.day_one.date(), model.checks.day_one.date() + timedelta(days=model.checks.max_id - 1)
    early, late = min(series["date"]), max(series["date"])
    if early < first or late > last:
        raise RequestError(f"request: series dates from {early} to {late}; the model's calendar runs from {first} "
                           f"(day 1) to {last} (data.inventory.max_id of its bundle)")
    names = {key: (entry["name"], entry["kind"]) for key, entry in model.checks.chemicals.items()}
    unknown = sorted({str(c) for c in series["chemical"] if str(c).lower() not in names})
    if unknown:
        raise RequestError(f"request: chemical(s) {shown(unknown)} not in the model's catalogue")
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
    return DailyGrid(keys, kinds, [BASE_UNIT[k] for k in kinds], model.checks.day(dates[0].date()), dates,
                     *(np.stack(grids[n]) for n in ("used", "purchased", "experiments", "stock")))


def forecast(model: ServedUsageForecaster, daily: DailyGrid, days: int | None = None,
             stock_on_hand: dict[tuple[str, str], float] | None = None) -> dict:
    """Forecast, reorder point and reorder-now per (chemical, location) of `daily`."""
    keys = daily.keys
    untrained = [f"{c} at {loc}" for c, loc in keys if (c, loc) not in model.position]
    if untrained:
        raise RequestError(f"request: the model was not trained on {shown(untrained)}; it knows "
                           f"{sorted(f'{c} at {loc}' for c, loc in model.position)}")
    n_days = len(daily.dates)
    if n_days < min_history_days(model):
        raise RequestError(f"request: {n_days} day(s) of history; the model needs at least "
                           f"{min_history_days(model)} (its {model.seq_len}-day window and {LONGEST_WINDOW_DAYS}-day features)")
    missing = [f"{c} at {loc}" for c, loc in (stock_on_hand or {}) if (c, loc) not in keys]
    if missing:
        raise RequestError(f"request: stock_on_hand for {shown(missing)}, which the request has no rows for")
    cfg = model.selection["config"]
    data = series_set(keys, daily.base_unit, daily.dates, daily.used, daily.stock.copy(), daily.experiments,
                      daily.purchased, cfg["split"], scale=model.scale[[model.position[k] for k in keys]])
    data = dataclasses.replace(
        data, chemicals=model.chemicals, locations=model.locations,
        chem_index=np.array([model.chemicals.index(c) for c, _ in keys], dtype=np.int64),
        loc_index=np.array([model.locations.index(loc) for _, loc in keys], dtype=np.int64))
    for key, amount in (stock_on_hand or {}).items():
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
