"""The report page opens with what a person acts on (pipeline/report/decisions.py): the plan per
press, profit and gap, the forecaster's status per target, the chemicals to reorder now."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.report.build import build_page
from pipeline.report.decisions import decisions_html, forecaster_status, plan_per_press, reorder_now


def _schedule() -> pd.DataFrame:
    rows = []
    for name, room, maint in (("A", "north", {3}), ("B", "north", set()), ("C", "south", {1, 2, 5})):
        for h in range(6):
            rows.append({"press": ord(name) - 65, "press_name": name, "room": room, "hour": h,
                         "units": 0 if h in maint else 10, "maintenance": int(h in maint),
                         "temperature_C": 21.0 + (h == 5), "humidity_pct": 40.0, "profit_usd": 100.0})
    return pd.DataFrame(rows)


def test_plan_per_press_names_each_press_its_room_and_maintenance_hours():
    plan = plan_per_press(_schedule()).set_index("press")
    assert list(plan.index) == ["A", "B", "C"]
    assert plan.loc["C", "room"] == "south" and plan.loc["C", "maintenance hours"] == "01-02, 05"
    assert plan.loc["A", "maintenance hours"] == "03" and plan.loc["B", "maintenance hours"] == "none"
    assert plan.loc["A", "units"] == 50 and plan.loc["B", "hours producing"] == 6
    assert plan.loc["A", "temperature"] == "21.0-22.0 °C" and plan.loc["A", "humidity"] == "40.0 %RH"


def test_forecaster_status_says_better_on_a_par_or_behind_and_where():
    sel = pd.DataFrame({"target": ["f", "f", "g", "g", "h", "h"], "horizon_s": [30, 60] * 3,
                        "selected": ["lstm", "lstm", "ar", "lstm", "lstm", "ar"],
                        "selected_vs_best_baseline": [0.4, 0.2, 0.0, 0.001, 0.1, -0.03]})
    status = forecaster_status(sel).set_index("target")["status"]
    assert status["f"].startswith("better") and "20.0%" in status["f"]
    assert status["g"].startswith("on a par")
    assert status["h"].startswith("behind") and "3.0% at 60 s" in status["h"]


def test_reorder_now_lists_only_the_due_ones_most_urgent_first():
    reorder = pd.DataFrame({"chemical": ["x", "y", "z"], "location": ["L1", "L2", "L3"], "unit": ["ml", "g", "ml"],
                            "reorder_now": [True, False, True], "order_quantity": [1200.0, 0.0, 50.0],
                            "days_of_supply": [6.0, 20.0, 2.5], "lead_time_days": [7, 7, 3]})
    due = reorder_now(reorder)
    assert list(due["chemical"]) == ["z", "x"] and list(due["order"]) == ["50 ml", "1,200 ml"]


def test_missing_and_broken_files_are_said_not_fatal(tmp_path):
    (tmp_path / "process").mkdir()
    (tmp_path / "process" / "selection.csv").write_text("not,a\nselection,table\n")
    html = decisions_html(tmp_path)
    assert "optimize/schedule.csv does not exist yet: `dvc repro optimize` writes it." in html
    assert "process/selection.csv: KeyError" in html
    assert "inventory/reorder.csv does not exist yet" in html


def test_the_page_opens_with_the_decisions_before_any_stage_section(tiny_cfg):
    reports = Path(tiny_cfg.paths.reports)
    (reports / "optimize").mkdir(parents=True)
    _schedule().to_csv(reports / "optimize" / "schedule.csv", index=False)
    (reports / "optimize" / "metrics.json").write_text(json.dumps(
        {"objective": 1234.5, "instance": {"hours": 6}, "solve": {"optimal": True, "gap": 3e-5},
         "verification": {"passed": True}}))
    path, _ = build_page(tiny_cfg)
    html = path.read_text()
    assert html.index('id="decisions"') < html.index('id="data"') < html.index('id="optimize"')
    assert "Profit 1,234 USD" in html and "gap 3.0e-05" in html and "south" in html
    assert html.index('href="#decisions"') < html.index('href="#data"')
