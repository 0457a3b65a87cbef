"""What the optimize stage writes: schedule.csv, metrics.json, schedule.png (like the study's Fig. 4)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.figures import save_figure
from pipeline.core.io import write_json
from pipeline.core.staging import staged_dir
from pipeline.optimize.costs import Costs, cost_terms
from pipeline.optimize.instance import Instance
from pipeline.optimize.verify import Verification


def schedule_table(inst: Instance, values: dict, costs: Costs, ver: Verification) -> pd.DataFrame:
    """One row per press and hour, every term of the objective (costs.cost_terms) beside the
    decisions; each money column sums to its part of the objective."""
    producing = values["x"] > 0
    p_milp = np.where(producing, values["p"], ver.p_onnx)
    terms = cost_terms(inst, values, costs, p_milp)
    frames = []
    for k in range(inst.presses):
        frames.append(pd.DataFrame({
            "press": k, "hour": np.arange(inst.hours), "timestamp": inst.timestamps,
            "price_usd_per_mwh": inst.price, "outside_temperature_C": inst.outside_temperature,
            "temperature_C": values["T"], "humidity_pct": values["H"], "units": values["x"][k],
            "maintenance": values["b"][k], "maintenance_count_N": [values["N"][k, inst.day_of(t)] for t in range(inst.hours)],
            "p_fail": ver.p_onnx[k], "p_fail_milp": p_milp[k], "logit": ver.logit_onnx[k],
            **{column: terms[term][k] for column, term in TABLE_COLUMNS.items()},
        }))
    return pd.concat(frames, ignore_index=True)


def start_from_table(table: pd.DataFrame) -> dict:
    """The decisions of a schedule table (T, H, units, maintenance, N per press and day): a start
    schedule for the next solve (solve.ScheduleSolver.solve(start=...))."""
    grid = lambda column: table.pivot(index="press", columns="hour", values=column).to_numpy()  # noqa: E731
    room = table[table.press == table.press.min()].sort_values("hour")
    n = grid("maintenance_count_N").astype(int)
    return {"T": room.temperature_C.to_numpy(float), "H": room.humidity_pct.to_numpy(float),
            "x": grid("units").astype(int), "b": grid("maintenance").astype(int), "N": n[:, ::24]}


# schedule.csv column -> cost_terms name
TABLE_COLUMNS = {
    "revenue_usd": "revenue", "penalty_usd": "penalty", "energy_temperature_kwh": "energy_temperature_kwh",
    "energy_humidity_kwh": "energy_humidity_kwh", "energy_machine_kwh": "energy_machine_kwh",
    "cost_temperature_usd": "energy_cost_temperature", "cost_humidity_usd": "energy_cost_humidity",
    "cost_machine_usd": "energy_cost_machine", "maintenance_cost_usd": "maintenance_cost", "profit_usd": "profit",
}


def plot_schedule(table: pd.DataFrame, path: str | Path) -> Path:
    """Production and maintenance against the price curve (top), room setpoints (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hourly = table.groupby("hour").agg(units=("units", "sum"), maintenance=("maintenance", "sum"),
                                       price=("price_usd_per_mwh", "first"), temp=("temperature_C", "first"),
                                       hum=("humidity_pct", "first"), temp_out=("outside_temperature_C", "first"))
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[3, 2])
    ax.bar(hourly.index, hourly.units, color="tab:blue", alpha=0.75, label="units produced")
    maint = hourly[hourly.maintenance > 0]
    ax.bar(maint.index, maint.maintenance * hourly.units.max() * 0.15, bottom=0, color="tab:red",
           alpha=0.9, width=0.5, label="maintenance")
    ax.set_ylabel("units per hour")
    axp = ax.twinx()
    axp.plot(hourly.index, hourly.price, color="black", marker=".", label="price")
    axp.set_ylabel("price (USD/MWh)")
    lines = ax.get_legend_handles_labels()
    linesp = axp.get_legend_handles_labels()
    ax.legend(lines[0] + linesp[0], lines[1] + linesp[1], loc="upper left", fontsize=8)
    ax.set_title("Production and maintenance against the hourly price")
    ax2.plot(hourly.index, hourly.temp, color="tab:orange", label="room temperature T_t (C)")
    ax2.plot(hourly.index, hourly.temp_out, color="tab:orange", linestyle=":", label="outside temperature (C)")
    ax2.set_ylabel("C")
    axh = ax2.twinx()
    axh.plot(hourly.index, hourly.hum, color="tab:green", label="humidity H_t (%RH)")
    axh.set_ylabel("%RH")
    l2, lh = ax2.get_legend_handles_labels(), axh.get_legend_handles_labels()
    ax2.legend(l2[0] + lh[0], l2[1] + lh[1], loc="upper left", fontsize=8)
    ax2.set_xlabel("hour")
    fig.tight_layout()
    return save_figure(fig, path, "The optimised schedule: units produced and maintenance per hour against the hourly "
                                  "electricity price (top); room temperature and humidity setpoints with the outside "
                                  "temperature (bottom).")


def write_outputs(table: pd.DataFrame, metrics: dict, out_dir: str | Path) -> dict[str, Path]:
    """schedule.csv, metrics.json and schedule.png, written aside and moved in together: a run
    that fails (or is killed) while writing leaves the folder's previous files, never a mix."""
    out_dir = Path(out_dir)
    names = {"schedule": "schedule.csv", "metrics": "metrics.json", "figure": "schedule.png"}
    with staged_dir(out_dir) as tmp:
        table.to_csv(tmp / names["schedule"], index=False)
        write_json(tmp / names["metrics"], metrics)
        plot_schedule(table, tmp / names["figure"])
    return {key: out_dir / name for key, name in names.items()}
