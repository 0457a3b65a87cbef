"""The planner and the scripted press server over OPC UA (loopback, free ports, lockstep), on a
4-hour day: the presses run what the planner publishes, every version is a file and an MLflow
child run with its trigger; the planner survives a server restart (flagged, the subscription back,
re-planning again after it) and a missing node (flagged, held: no re-plan, the last proven plan's
next hours still published). Every wait is on a condition."""
from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.data.press_opcua import PressServer, scripted_presses
from pipeline.optimize.live.planner import build_planner
from pipeline.optimize.live.service import LivePlanner
from tests.opcua_helpers import monitored_items, secured, session_pki
from tests.optimize.replan_harness import short_day
from tests.servers import free_port

pytestmark = pytest.mark.slow
HOUR = 3600


@pytest.fixture(scope="module")
def day4(tmp_path_factory, fault_onnx):
    """Secured as conf ships it (Basic256Sha256, certificates, a user): the press server as
    application `presses`, the planner as `planner`."""
    cfg, _ = short_day(tmp_path_factory.mktemp("opcua"), fault_onnx, hours=4)
    return secured(cfg, session_pki()["pki"])


def on_free_ports(cfg, scenario: str, events: list[dict]):
    c = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    c.replan.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-presses/"
    c.replan.publish.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-planner/"
    c.replan.scenarios[scenario] = events
    c.replan.line.tick_s = 300
    c.replan.reconnect_max_delay_s = 1
    return c


async def wait_until(condition, what: str, timeout_s: float = 180.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        await asyncio.sleep(0.05)


async def _nothing() -> None:
    return None


async def day_over_opcua(cfg, scenario: str, out, restart_at: int | None = None, planner_nodes: dict | None = None,
                         keep_planner: bool = False):
    """The press server plays the day in lockstep with the planner (the planner's node ids can
    differ: `planner_nodes`); `restart_at`: the server stops once that tick is acknowledged and a
    new one (same presses, same endpoint) goes on from there; `keep_planner`: the planner's own
    server goes on serving its last plan (the caller stops it: live.publisher.stop())."""
    sim, plan, day_start = scripted_presses(cfg, scenario)
    end = sim.hours * HOUR
    watcher = OmegaConf.create(OmegaConf.to_container(cfg))
    watcher.replan.nodes.update(planner_nodes or {})
    replanner, _ = build_planner(watcher)
    live = LivePlanner(watcher, replanner, out, day_start)
    if keep_planner:  # its own server outlives the run until the caller reads it
        live.stop_publisher, live.publisher.stop = live.publisher.stop, _nothing
    stop = asyncio.Event()
    task = asyncio.create_task(live.run(stop, until_s=end))
    server = await PressServer(cfg, sim, plan, day_start).start()
    servers = [server]
    try:
        await wait_until(lambda: live.subscribed.is_set() or task.done(), "the planner to subscribe")
        if restart_at is None:
            await server.run(0, 0, end)
        else:
            await server.run(0, 0, restart_at)
            subscribed = monitored_items(server.server)
            await server.stop()
            await wait_until(lambda: live.connection_losses >= 1, "the planner to see the server go")
            server = await PressServer(cfg, sim, plan, day_start).start()
            servers.append(server)
            await wait_until(lambda: live.reconnects >= 1, "the planner to reconnect")
            await wait_until(lambda: monitored_items(server.server) >= subscribed, "the subscription to be re-created")
            await server.run(0, restart_at, end)
        summary = await asyncio.wait_for(task, 120)
    finally:
        stop.set()
        for s in servers:
            await s.stop()
    return live, servers, summary


def test_the_presses_run_the_published_plans_through_a_server_restart(day4, tmp_path):
    import mlflow

    cfg = on_free_ports(day4, "stop_restart", [{"event": "stop", "press": 0, "start": "01:10", "end": "01:50"}])
    live, servers, summary = asyncio.run(day_over_opcua(cfg, "stop_restart", tmp_path / "out", restart_at=int(1.5 * HOUR)))
    versions = live.planner.versions
    triggers = [v.trigger for v in versions[1:]]
    assert "stop" in triggers and any("restart" in t for t in triggers) and triggers.count("hour") >= 1
    assert any(v.line_time > "2021-07-01 01:30" for v in versions[1:])  # re-planned after the restart
    # the presses ran what the planner published, every hour (the first from the day-ahead version)
    sources = [s for server in servers for s in server.sources]
    assert sources[0] == "planner v0" and all(s.startswith("planner v") for s in sources), sources
    assert int(sources[-1].split("v")[1]) > 1
    flags = pd.read_csv(tmp_path / "out" / "flags.csv")
    assert {"connection_lost", "reconnected"} <= set(flags["flag"]), flags
    assert summary["connection_losses"] == summary["reconnects"] == 1
    table = pd.read_csv(tmp_path / "out" / "versions.csv")
    assert table["version"].tolist() == list(range(len(versions)))
    assert table["latency_s"].iloc[1:].notna().all() and (table["status"].iloc[1:] != "").all()
    assert all((tmp_path / "out" / f"plan_v{v.version:03d}.csv").exists() for v in versions)
    # every version an MLflow child of the day's run, its trigger a tag
    client = mlflow.tracking.MlflowClient()
    parent = client.get_run(live.tracker.parent_id)
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(int(r.data.tags["version"]) for r in children) == list(range(len(versions)))
    assert {r.data.tags["trigger"] for r in children} == {v.trigger for v in versions}
    assert parent.info.status == "FINISHED"


def test_a_missing_node_is_flagged_and_the_last_proven_plan_stays(day4, tmp_path):
    cfg = on_free_ports(day4, "drift", [{"event": "drift", "press": 0, "signal": "vibration_mm_s", "start": "00:30",
                                         "end": "01:00", "to": 0.6}])
    live, servers, summary = asyncio.run(day_over_opcua(
        cfg, "drift", tmp_path / "out", planner_nodes={"vibration_mm_s": "Press{press}.NoSuchNode"}))
    flags = pd.read_csv(tmp_path / "out" / "flags.csv")
    missing = flags[flags["flag"] == "missing"]
    assert len(missing) == 1 and "Press0.NoSuchNode" in missing["detail"].iloc[0]
    assert "held" in set(flags["flag"])                       # the hours closed, but nothing was re-planned
    assert len(live.planner.versions) == 1 and summary["replans"] == 0
    assert servers[0].sources == ["planner v0"] * 4  # its next hours published all the same
