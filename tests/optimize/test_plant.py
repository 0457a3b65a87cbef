"""The plant as data: the shipped plants load, `single` is exactly the flat keys, a plant file
written by hand runs with networks beside it (ours and one trained elsewhere with its sidecar),
every mistake is one line naming the plant, the room or press and the key, and the re-plan cut
keeps what was already done."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from pipeline.optimize.instance import InfeasibleInstanceError, build_plant_instance, read_prices
from pipeline.optimize.plant import PlantError, load_plant
from pipeline.optimize.run import prices_path, run_optimization

ROOT = Path(__file__).resolve().parents[2]


def test_the_single_plant_is_the_flat_keys(opt_cfg):
    cfg = opt_cfg(["optimize.presses=3", "optimize.fixed_inputs.speed_rpm=700"])
    plant = load_plant(cfg)
    (room,) = plant.rooms
    (press,) = room.presses
    assert press.count == 3 and press.fixed_inputs["speed_rpm"] == 700.0 and press.max_per_hour == 36
    assert room.humidity_box == (30.0, 65.0) and room.humidity_initial == 45.0
    assert press.network_file.name == "fault_dnn.onnx" and plant.machines == 3


def test_the_mixed_plant_loads_with_its_own_keys(opt_cfg):
    cfg = opt_cfg(["optimize/plant=mixed"])
    plant = load_plant(cfg)
    assert [r.name for r in plant.rooms] == ["north", "south"] and plant.machines == 5
    old = plant.rooms[0].presses[1]
    assert old.name == "N2-old" and old.max_per_hour == 30 and old.required_maintenance == 2
    assert plant.rooms[1].presses[0].machine_kwh_per_unit == 1450.0
    assert plant.rooms[1].temperature_box == (20.0, 28.0)


@pytest.mark.parametrize("change, line", [
    (lambda p: p["rooms"][0]["presses"][0].update(max_per_hour=0),
     "room 'hall', press 'P1': max_per_hour = 0: allowed a whole number from 1 to 100000"),
    (lambda p: p["rooms"][0]["presses"][1].update(maxperhour=30),
     "room 'hall', press 'P2': maxperhour = 30: allowed only the keys"),
    (lambda p: p["rooms"][0]["presses"][1].update(name="P1"),
     "room 'hall': name = 'P1': allowed a name not used twice in the plant"),
    (lambda p: p["rooms"][0].update(humidity_pct={"min": 50, "max": 40}),
     "room 'hall': humidity_pct.min = 50.0: allowed a value below humidity_pct.max = 40"),
    (lambda p: p["rooms"][0]["presses"][0].update(network_file="nowhere.onnx"),
     "room 'hall', press 'P1': network_file = 'nowhere.onnx': allowed an existing ONNX file"),
    (lambda p: p["rooms"][0]["presses"][0].update(maintenance={"required_per_day": 3, "max_per_day": 2}),
     "room 'hall', press 'P1': maintenance.required_per_day = 3: allowed at most maintenance.max_per_day = 2"),
    (lambda p: p["rooms"][0]["presses"][1]["fixed_inputs"].update(speed_rpm="fast"),
     "room 'hall', press 'P2': fixed_inputs.speed_rpm = 'fast': allowed a number >= 0"),
    (lambda p: p.update(rooms=[]), "rooms = []: allowed a non-empty list of rooms"),
])
def test_a_mistake_in_a_plant_file_is_one_line_naming_press_and_key(opt_cfg, tmp_path, change, line):
    spec = {"rooms": [{"name": "hall", "presses": [
        {"name": "P1"}, {"name": "P2", "fixed_inputs": {"pressure_kN": 60.0, "speed_rpm": 780.0}}]}]}
    change(spec)
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(spec))
    cfg = OmegaConf.merge(opt_cfg(), {"optimize": {"plant_file": str(path)}})
    with pytest.raises(PlantError) as err:
        load_plant(cfg)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"plant {path}") and line in message


def test_a_plant_file_must_be_an_absolute_existing_yaml(opt_cfg, tmp_path):
    for value, words in (("plant.yaml", "absolute path"), (str(tmp_path / "none.yaml"), "no such file")):
        with pytest.raises(PlantError, match=words):
            load_plant(OmegaConf.merge(opt_cfg(), {"optimize": {"plant_file": value}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("rooms: [name: {")
    with pytest.raises(PlantError, match="not valid YAML"):
        load_plant(OmegaConf.merge(opt_cfg(), {"optimize": {"plant_file": str(bad)}}))


def test_a_plant_file_of_nested_aliases_is_refused_without_expanding_it(opt_cfg, tmp_path):
    """500 bytes that expand to 9**9 strings: read within the plant's bounds (core/safe_yaml.py),
    not expanded by the first message that shows a value (it took 3.6 GB and 32 s, then a
    MemoryError traceback)."""
    from tests.optimize.hostile_nets import billion_laughs

    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs().replace("inputs:", "rooms:"))
    with pytest.raises(PlantError, match=r"laughs\.yaml: its YAML aliases expand to more than 100000 nodes"):
        load_plant(OmegaConf.merge(opt_cfg(), {"optimize": {"plant_file": str(path)}}))


def test_a_large_value_is_shown_cut_short(opt_cfg, tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump({"rooms": [{"name": "hall", "presses": [
        {"name": "P1", "max_per_hour": [list(range(50))] * 50}]}]}))
    with pytest.raises(PlantError, match=r"max_per_hour = \[\[0, 1, 2, 3, 4, 5, \.\.\.\], .*\.\.\.\]: allowed") as err:
        load_plant(OmegaConf.merge(opt_cfg(), {"optimize": {"plant_file": str(path)}}))
    assert len(str(err.value)) < 400


def test_a_hand_written_plant_file_runs_with_foreign_networks_beside_it(opt_cfg, tmp_path, fault_onnx):
    """The README's plant file: two rooms, presses of different makes, a network trained elsewhere
    read through its sidecar; relative paths beside the file."""
    from tests.optimize.test_foreign_network import _plain_export

    folder = tmp_path / "plant"
    folder.mkdir()
    shutil.copy(fault_onnx, folder / "ours.onnx")
    path, sidecar = _plain_export(folder)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    (folder / "plant.yaml").write_text(yaml.safe_dump({"rooms": [
        {"name": "A", "presses": [{"name": "ours", "network_file": "ours.onnx"},
                                  {"name": "theirs", "network_file": path.name, "max_per_hour": 30,
                                   "fixed_inputs": {"pressure_kN": 60.0, "speed_rpm": 700.0, "vibration_mm_s": 0.3}}]},
        {"name": "B", "humidity_pct": {"min": 35, "max": 55, "initial": 40}, "presses": [
            {"name": "twins", "network_file": "ours.onnx", "count": 2}]}]}))
    cfg = OmegaConf.merge(opt_cfg(["optimize.production.demand_per_day=1200"]),
                          {"optimize": {"plant_file": str(folder / "plant.yaml"), "parallel": "none"}})
    metrics = run_optimization(cfg, tmp_path / "out")
    assert metrics["verification"]["passed"] and metrics["instance"]["presses"] == 4
    assert metrics["instance"]["press_names"] == ["ours", "theirs", "twins#1", "twins#2"]
    assert metrics["solve"]["bound"] >= metrics["objective"]
    assert (tmp_path / "out" / "schedule.png").stat().st_size > 0
    decomposition = metrics["model"]["decomposition"]
    assert decomposition["groups"] == 3 and decomposition["units"] == 3


def test_a_replan_keeps_what_was_done(opt_cfg):
    cfg = opt_cfg(["optimize.horizon_hours=48", "optimize.presses=2"])
    inst = build_plant_instance(cfg, read_prices(prices_path(cfg), 48), load_plant(cfg))
    later = inst.remaining(10, humidity={"room": 41.5}, units_made=300, maintenance_done={"press#1": 1})
    assert later.hours == 38 and [len(d) for d in later.days] == [14, 24]
    assert later.demand == [max(inst.demand[0] - 300, 0), inst.demand[1]]
    assert later.humidity_initial == (41.5,)
    assert later.maintenance_done.tolist() == [[1, 0], [0, 0]]
    np.testing.assert_array_equal(later.price, inst.price[10:])
    with pytest.raises(ValueError, match="no press 'nobody'"):
        inst.remaining(10, maintenance_done={"nobody": 1})
    with pytest.raises(InfeasibleInstanceError, match="7 maintenances made"):
        inst.remaining(10, maintenance_done={"press#2": 7})
