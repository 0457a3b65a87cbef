"""What a person acts on, at the top of the report page: the plan per press (production,
maintenance hours, room setpoints), its profit and proven gap, the line forecaster's status per
target, the chemicals to reorder now. Each block links to its section; the tables stay below.

Each block reads the stage's own files under reports/ (schedule.csv and metrics.json of optimize,
selection.csv and metrics.json of train_process, reorder.csv of train_inventory); a file that is
missing or unreadable is said in its block, never fatal to the page."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pandas as pd

NEGLIGIBLE = 0.005  # a forecaster within half a per cent of the best baseline is on a par with it


def _hours(hours: pd.Series) -> str:
    """Hours as a short list of ranges: 0-5, 9, 13-14."""
    hs = sorted(int(h) for h in hours)
    runs, start = [], None
    for i, h in enumerate(hs):
        if start is None:
            start = h
        if i + 1 == len(hs) or hs[i + 1] != h + 1:
            runs.append(f"{start:02d}" if start == h else f"{start:02d}-{h:02d}")
            start = None
    return ", ".join(runs) or "none"


def _span(values: pd.Series, unit: str) -> str:
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:.1f} {unit}" if abs(hi - lo) < 0.05 else f"{lo:.1f}-{hi:.1f} {unit}"


def plan_per_press(schedule: pd.DataFrame) -> pd.DataFrame:
    """One row per press: room, units, hours producing, maintenance hours, the room's setpoint
    ranges over the horizon and the press's share of the profit."""
    name = "press_name" if "press_name" in schedule else "press"
    rows = []
    for press, g in schedule.groupby(name, sort=False):
        rows.append({
            "press": str(press),
            **({"room": str(g["room"].iloc[0])} if "room" in g else {}),
            "units": int(g["units"].sum()),
            "hours producing": int((g["units"] > 0).sum()),
            "maintenance hours": _hours(g.loc[g["maintenance"] > 0, "hour"]),
            "temperature": _span(g["temperature_C"], "°C"),
            "humidity": _span(g["humidity_pct"], "%RH"),
            "profit (USD)": f"{float(g['profit_usd'].sum()):,.0f}",
        })
    return pd.DataFrame(rows)


def forecaster_status(selection: pd.DataFrame) -> pd.DataFrame:
    """One row per target: what is deployed at each horizon and how it stands against the best
    baseline on the test batches (worst horizon)."""
    rows = []
    for target, g in selection.groupby("target", sort=False):
        g = g.sort_values("horizon_s")
        gaps = g["selected_vs_best_baseline"].astype(float)
        worst = float(gaps.min())
        if worst >= NEGLIGIBLE:
            status = f"better than the best baseline at every horizon (at least {worst:.1%})"
        elif worst > -NEGLIGIBLE:
            status = "on a par with the best baseline (within 0.5 %)"
        else:
            at = float(g.loc[gaps.idxmin(), "horizon_s"])
            status = f"behind the best baseline by {-worst:.1%} at {at:g} s: check before acting on its warnings"
        rows.append({"target": str(target),
                     "deployed per horizon": ", ".join(f"{h:g} s: {m}" for h, m in zip(g["horizon_s"], g["selected"])),
                     "status": status})
    return pd.DataFrame(rows)


def reorder_now(reorder: pd.DataFrame) -> pd.DataFrame:
    """The chemicals whose stock is at or below the reorder point, most urgent first."""
    due = reorder[reorder["reorder_now"].astype(str).str.lower() == "true"].sort_values("days_of_supply")
    return pd.DataFrame({
        "chemical": due["chemical"], "location": due["location"],
        "order": [f"{q:,.0f} {u}" for q, u in zip(due["order_quantity"].astype(float), due["unit"])],
        "days of supply": due["days_of_supply"].astype(float).round(1),
        "lead time (days)": due["lead_time_days"]})


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0)


STAGE_OF = {"optimize": "optimize", "process": "train_process", "inventory": "train_inventory"}


def _read(path: Path, reader):
    """(value, None) or (None, one sentence saying why not)."""
    if not path.exists():
        stage = STAGE_OF.get(path.parent.name, path.parent.name)
        return None, f"{path.parent.name}/{path.name} does not exist yet: `dvc repro {stage}` writes it."
    try:
        return reader(path), None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a broken file is said, not fatal
        return None, f"{path.parent.name}/{path.name} could not be read: {type(exc).__name__}: {exc}"


def _block(title: str, anchor: str, body: str) -> str:
    return f'<h3>{escape(title)} <a class="note" href="#{escape(anchor)}">(details)</a></h3>{body}'


def _missing(why: str) -> str:
    return f'<p class="missing">{escape(why)}</p>'


def _plan(reports: Path) -> str:
    schedule, why = _read(reports / "optimize" / "schedule.csv", pd.read_csv)
    metrics, why_m = _read(reports / "optimize" / "metrics.json", lambda p: json.loads(p.read_text()))
    if schedule is None:
        return _block("The plan", "optimize", _missing(why))
    try:
        table = plan_per_press(schedule)
    except (KeyError, ValueError, TypeError) as exc:
        return _block("The plan", "optimize", _missing(f"optimize/schedule.csv: {type(exc).__name__}: {exc}"))
    head = ""
    if metrics is not None:
        solve = metrics.get("solve", {})
        gap = solve.get("gap")
        proven = "proven optimal" if solve.get("optimal") else f"status {solve.get('status', '?')}"
        gap_text = f"gap {float(gap):.1e}" if gap is not None else "gap not recorded"
        verified = metrics.get("verification", {}).get("passed")
        head = (f"<p><b>Profit {float(metrics.get('objective', float('nan'))):,.0f} USD</b> over "
                f"{metrics.get('instance', {}).get('hours', '?')} h, {escape(proven)} ({escape(gap_text)}); "
                f"{'checked against the ONNX network' if verified else 'NOT verified against the ONNX network'}.</p>")
    else:
        head = _missing(why_m)
    return _block("The plan", "optimize", head + _table(table))


def _forecaster(reports: Path) -> str:
    selection, why = _read(reports / "process" / "selection.csv", pd.read_csv)
    if selection is None:
        return _block("Line forecaster", "process", _missing(why))
    try:
        body = _table(forecaster_status(selection))
    except (KeyError, ValueError, TypeError) as exc:
        return _block("Line forecaster", "process", _missing(f"process/selection.csv: {type(exc).__name__}: {exc}"))
    metrics, _ = _read(reports / "process" / "metrics.json", lambda p: json.loads(p.read_text()))
    flags = ((metrics or {}).get("shifts") or {}).get("flags") or []
    if flags:
        body += f"<p>Batches unlike the others: {escape('; '.join(map(str, flags)))}.</p>"
    return _block("Line forecaster", "process", body)


def _reorder(reports: Path) -> str:
    reorder, why = _read(reports / "inventory" / "reorder.csv", pd.read_csv)
    if reorder is None:
        return _block("Chemicals to reorder now", "inventory", _missing(why))
    try:
        due = reorder_now(reorder)
    except (KeyError, ValueError, TypeError) as exc:
        return _block("Chemicals to reorder now", "inventory",
                      _missing(f"inventory/reorder.csv: {type(exc).__name__}: {exc}"))
    body = (_table(due) if len(due) else
            f"<p>None: every one of the {len(reorder)} chemical-location pairs is above its reorder point.</p>")
    return _block("Chemicals to reorder now", "inventory", body)


def decisions_html(reports: Path) -> str:
    """The page's first section: plan, forecaster status, reorders."""
    return ('<section id="decisions"><h2>Decisions</h2>'
            "<p>What to act on from this run; each block links to its section below.</p>"
            + _plan(reports) + _forecaster(reports) + _reorder(reports) + "</section>")
