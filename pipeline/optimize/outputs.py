"""What the optimize stage writes: schedule.csv, metrics.json, schedule.png (the study's Fig. 4, per press and room)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.figures import save_figure
from pipeline.core.io import write_json
from pipeline.core.staging import staged_dir
from pipeline.optimize.costs import Costs, cost_terms
from pipeline.optimize.instance import PlantInstance
from pipeline.optimize.verify import Verification


def schedule_table(inst: PlantInstance, values: dict, costs: Costs, ver: Verification) -> pd.DataFrame:
    """One row per press and hour, every term of the objective (costs.cost_terms) beside the
    decisions and its room's setpoints; each money column sums to its part of the objective."""
    producing = values["x"] > 0
    p_milp = np.where(producing, values["p"], ver.p_onnx)
    terms = cost_terms(inst, values, costs, p_milp)
    T, H = np.atleast_2d(values["T"]), np.atleast_2d(values["H"])
    names = inst.machine_names
    frames = []
    for k, (r, _) in enumerate(inst.machines):
        frames.append(pd.DataFrame({
            "press": k, "press_name": names[k], "room": inst.plant.rooms[r].name, "hour": np.arange(inst.hours),
            "timestamp": inst.timestamps, "price_usd_per_mwh": inst.price, "outside_temperature_C": inst.outside_temperature,
            "temperature_C": T[r], "humidity_pct": H[r], "units": values["x"][k],
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
    """Every press's units and maintenance per hour (a grid, one row per press, grouped by room)
    under the price curve and the plant's total; every room's temperature and humidity below.
    Readable from one press to a few dozen: the grid grows a row per press, cells carry their
    numbers while they fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hourly = table.groupby("hour").agg(units=("units", "sum"), price=("price_usd_per_mwh", "first"),
                                       temp_out=("outside_temperature_C", "first"))
    presses = table.drop_duplicates("press").sort_values("press")
    rooms = list(dict.fromkeys(presses.room))
    units = table.pivot(index="press", columns="hour", values="units").to_numpy(float)
    maint = table.pivot(index="press", columns="hour", values="maintenance").to_numpy(int)
    n_press, n_hours = units.shape
    grid_h = max(1.2, 0.32 * n_press + 0.6)
    fig, (ax, axg, axt, axh) = plt.subplots(4, 1, figsize=(max(10, 0.28 * n_hours + 3), 2.6 + grid_h + 4.2),
                                            sharex=True, height_ratios=[2.6, grid_h, 2.1, 2.1])
    ax.bar(hourly.index, hourly.units, color="tab:blue", alpha=0.75, label="units, all presses")
    ax.set_ylabel("units per hour")
    axp = ax.twinx()
    axp.plot(hourly.index, hourly.price, color="black", marker=".", label="price")
    axp.set_ylabel("price (USD/MWh)")
    lines, linesp = ax.get_legend_handles_labels(), axp.get_legend_handles_labels()
    ax.legend(lines[0] + linesp[0], lines[1] + linesp[1], loc="upper left", fontsize=8)
    ax.set_title(f"Production and maintenance of {n_press} press(es) in {len(rooms)} room(s) against the hourly price")
    image = axg.imshow(units, aspect="auto", cmap="Blues", vmin=0, interpolation="nearest",
                       extent=(-0.5, n_hours - 0.5, n_press - 0.5, -0.5))
    ks, ts = np.nonzero(maint)
    axg.scatter(ts, ks, marker="s", s=max(12, 90 - 2 * n_press), facecolors="none", edgecolors="tab:red",
                linewidths=1.5, label="maintenance")
    if n_press * n_hours <= 12 * 48:
        for (k, t), v in np.ndenumerate(units):
            if v > 0:
                axg.text(t, k, f"{int(v)}", ha="center", va="center", fontsize=6,
                         color="white" if v > 0.6 * np.nanmax(units) else "black")
    labels = [f"{room} / {name}" if len(rooms) > 1 else str(name) for room, name in zip(presses.room, presses.press_name)]
    axg.set_yticks(range(n_press), labels, fontsize=8 if n_press <= 20 else 6)
    for k in range(1, n_press):  # a line between rooms
        if presses.room.iloc[k] != presses.room.iloc[k - 1]:
            axg.axhline(k - 0.5, color="black", linewidth=1.2)
    axg.legend(loc="upper right", fontsize=8, bbox_to_anchor=(1.0, 1.25 if n_press < 4 else 1.08))
    fig.colorbar(image, ax=axg, pad=0.01, fraction=0.02, label="units")
    colours = plt.get_cmap("tab10")
    for i, room in enumerate(rooms):
        rows = table[(table.room == room) & (table.press == presses[presses.room == room].press.iloc[0])]
        axt.plot(rows.hour, rows.temperature_C, color=colours(i % 10), label=f"{room} T_t" if len(rooms) > 1 else "room T_t")
        axh.plot(rows.hour, rows.humidity_pct, color=colours(i % 10), label=f"{room} H_t" if len(rooms) > 1 else "room H_t")
    axt.plot(hourly.index, hourly.temp_out, color="grey", linestyle=":", label="outside")
    axt.set_ylabel("temperature (C)")
    axh.set_ylabel("humidity (%RH)")
    for a in (axt, axh):
        a.legend(loc="upper left", fontsize=8, ncol=min(len(rooms) + 1, 6))
        a.ticklabel_format(axis="y", useOffset=False, style="plain")
        low, high = a.get_ylim()
        if high - low < 2.0:  # a setpoint held all day: show it in a readable band, not at 1e-7 resolution
            mid = (low + high) / 2
            a.set_ylim(mid - 1.0, mid + 1.0)
    axh.set_xlabel("hour")
    fig.tight_layout()
    return save_figure(fig, path, "The optimised schedule: total units per hour against the electricity price (top); "
                                  "each press's units per hour with its maintenance hours framed in red, grouped by "
                                  "room (grid); each room's temperature setpoint with the outside temperature and its "
                                  "humidity setpoint (bottom).")


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
