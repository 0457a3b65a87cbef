"""The press server's reading of a plant (contracts/press_signals.line_presses) agrees with the
optimiser's (plant.py), press by press; a plan of several rooms keeps each room's setpoints."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.contracts.press_signals import line_presses, node_templates, read_plan, signal_node
from pipeline.core.validation import DataValidationError
from pipeline.optimize.instance import build_plant_instance, read_prices
from pipeline.optimize.plant import load_plant
from pipeline.optimize.run import prices_path


@pytest.mark.parametrize("plant", ["mixed", "single"])
def test_the_press_server_plays_the_presses_of_the_optimisers_plant(opt_cfg, plant):
    cfg = opt_cfg([f"optimize/plant={plant}"])
    day = build_plant_instance(cfg, read_prices(prices_path(cfg), int(cfg.optimize.horizon_hours)), load_plant(cfg))
    line = line_presses(cfg.optimize)
    assert [p.name for p in line] == day.machine_names
    assert [p.room for p in line] == [day.plant.rooms[r].name for r, _ in day.machines]
    assert [(p.normal, p.max_per_hour, p.maintenance_hours) for p in line] == \
        [(press.fixed_inputs, press.max_per_hour, press.maintenance_hours) for _, press in day.machines]


@pytest.mark.parametrize("text, says", [
    ("rooms: [{name: hall, presses: [{name: P1, count: 1000000000}]}]", "at most 200 presses in all"),
    ("rooms: [{presses: [{name: P1}]}]", "KeyError: 'name'"),
    ("rooms: [{name: hall, presses: [{name: P1, fixed_inputs: {speed_rpm: fast}}]}]", "ValueError"),
    ("rooms: {name: hall}", "a mapping with a list of `rooms`"),
    ("rooms: " + "[" * 40 + "]" * 40, "nested more than 20 levels deep: not a plant description"),
])
def test_a_plant_the_optimiser_would_refuse_is_one_line_for_the_press_server(opt_cfg, tmp_path, text, says):
    from pipeline.contracts.plant_file import PlantError

    path = tmp_path / "plant.yaml"
    path.write_text(text + "\n")
    cfg = opt_cfg([f"optimize.plant_file={path}"])
    with pytest.raises(PlantError, match=r"plant\.yaml") as err:
        line_presses(cfg.optimize)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_several_presses_are_named_by_their_press_name(opt_cfg):
    rp = opt_cfg().replan
    assert signal_node(node_templates(rp, 1), "units", 0) == "Press0.UnitsToday"
    several = node_templates(rp, 5)
    assert signal_node(several, "units", 3, "S2#1") == "Presses.S2#1.UnitsToday"
    assert signal_node(several, "prices") == signal_node(node_templates(rp, 1), "prices")


def test_a_plan_of_two_rooms_keeps_each_rooms_setpoints(tmp_path):
    rows = [{"press": k, "room": room, "hour": h, "temperature_C": 20.0 + k, "humidity_pct": 40.0, "units": 3,
             "maintenance": 0} for k, room in enumerate(["a", "b"]) for h in range(2)]
    pd.DataFrame(rows).to_csv(tmp_path / "two.csv", index=False)
    assert read_plan(tmp_path / "two.csv")["temperature_C"].tolist() == [20.0, 20.0, 21.0, 21.0]
    rows[2]["room"] = rows[3]["room"] = "a"  # one room, two setpoints in an hour: refused
    pd.DataFrame(rows).to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(DataValidationError, match="room 'a', hour 0: the presses share one room"):
        read_plan(tmp_path / "one.csv")
