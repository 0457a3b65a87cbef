"""The live planner on a plant of two different presses in two rooms, over OPC UA (loopback, free
ports, lockstep, secured as conf ships it): the press server publishes each press's signals under
its name, the planner subscribes to all of them, and a stop of one press re-plans the whole plant:
the other press's target rises to cover the demand; each press's target and each room's setpoints
are published by name, with the version, its trigger and gap."""
from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

from pipeline.contracts.press_signals import plant_plan_node, read_plan
from pipeline.core.opcua_connect import connect_secured, new_client
from pipeline.core.opcua_security import PRESSES, Settings
from tests.opcua_helpers import secured, session_pki
from tests.optimize.plant_day import plant_day
from tests.optimize.test_replan_opcua import day_over_opcua, on_free_ports

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plant4(tmp_path_factory, fault_onnx):
    cfg, _ = plant_day(tmp_path_factory.mktemp("plant"), fault_onnx, hours=4)
    return secured(cfg, session_pki()["pki"])


async def read_published(cfg, names: list[str], rooms: list[str]) -> dict:
    from asyncua import ua

    client = new_client(str(cfg.replan.publish.endpoint), 4.0)
    await connect_secured(client, Settings.from_conf(cfg.live.security), PRESSES)
    try:
        idx = await client.get_namespace_index(str(cfg.replan.publish.namespace))
        nodes = {n: n for n in ("Plan.Version", "Plan.Trigger", "Plan.Gap", "Plan.Status", "Plan.Remaining")}
        nodes |= {f"{p}.Target": plant_plan_node("Target", p) for p in names}
        nodes |= {f"{r}.T": plant_plan_node("Temperature_C", room=r) for r in rooms}
        values = await client.read_values([client.get_node(ua.NodeId(n, idx)) for n in nodes.values()])
        return dict(zip(nodes, values))
    finally:
        await client.disconnect()


def test_a_stop_of_one_press_replans_the_plant_and_the_other_press_covers(plant4, tmp_path):
    cfg = on_free_ports(plant4, "plant_stop", [{"event": "stop", "press": 0, "start": "01:10", "end": "03:50"}])
    published = {}

    async def day():
        live, servers, summary = await day_over_opcua(cfg, "plant_stop", tmp_path / "out", keep_planner=True)
        published.update(await read_published(cfg, live.publisher.names, live.publisher.rooms))
        await live.stop_publisher()
        return live, servers, summary

    live, servers, summary = asyncio.run(day())
    versions = live.planner.versions
    stop = next(v for v in versions if "stop" in v.trigger.split("+"))
    before = versions[stop.version - 1]
    rest = slice(stop.first_hour, None)
    # the stopped press is planned at nothing, the other one makes more of the demand
    assert stop.units[0, rest].sum() == 0
    assert stop.units[1, rest].sum() > before.units[1, rest].sum()
    assert stop.status in ("optimal", "feasible", "time_limit") and (stop.status == "optimal" or stop.gap is not None)
    # the press server ran each hour from the planner, the presses by name
    assert all(s.startswith("planner v") for s in servers[0].sources), servers[0].sources
    record = servers[0].sim.record()
    assert record[(record.press == 1)]["units"].sum() == versions[-1].units[1].sum()
    # what the planner publishes at the day's end: its last version, by press and room name
    last = versions[-1]
    assert published["Plan.Version"] == last.version and published["Plan.Trigger"] == last.trigger
    assert [published[f"{p}.Target"] for p in ("E1", "W1-fast")] == [int(u) for u in last.units[:, -1]]
    assert published["east.T"] == pytest.approx(last.temperature[0, -1])
    remaining = json.loads(published["Plan.Remaining"])
    assert remaining["presses"] == ["E1", "W1-fast"] and remaining["rooms"] == ["east", "west"]
    # every version a plan file the press server can read, per room setpoints
    table = read_plan(tmp_path / "out" / f"plan_v{stop.version:03d}.csv")
    assert list(table.groupby("press")["room"].first()) == ["east", "west"]
    flags = pd.read_csv(tmp_path / "out" / "flags.csv")
    assert "missing" not in set(flags["flag"]) and summary["replans"] == len(versions) - 1
