"""The presses of the day-ahead plan as a live OPC UA server, with the scripted events of a scenario.

    python -m pipeline.data.press_opcua                        # conf/replan: scenario, speed, tick
    python -m pipeline.data.press_opcua --scenario drift --speed 0   # lockstep with the planner

Each press's pressure, speed, vibration, running state, units and maintenances of the day, the
day's prices as now known and the line clock are variables (node ids: conf/replan `nodes`,
contracts/press_signals.py). Every `tick_s` of line time each one is written with the line time
as SourceTimestamp and the wall clock as ServerTimestamp, the clock last. At each hour's start the
presses read what the planner published for that hour (Plan.* on the planner's server) and run
it; where the planner has published nothing for it, the day-ahead plan file's hour.

`--speed` is line seconds per wall second; 0 is lockstep: after each tick the server waits until
the planner has written the tick's time to Line.PlannerAck (up to `ack_timeout_s`), so a test or
a benchmark replays a day as fast as the planner follows, and nothing depends on timing.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.press_signals import (MEASURED, PRESS_SIGNALS, PRESS_VALUES, ROOM_VALUES, LinePress, line_presses,
                                              node_templates, plan_node, plant_plan_node, read_plan, signal_node)
from pipeline.core.opcua_connect import connect_secured, new_client, new_server
from pipeline.core.opcua_security import PRESSES, Settings, add_policy_flag
from pipeline.data.press.events import clock_seconds, parse_events
from pipeline.data.press.simulator import HOUR, HourPlan, ScriptedPresses, hour_plan_from_table, steps

log = logging.getLogger("pipeline.data.press_opcua")


def as_utc(ts: pd.Timestamp) -> datetime:
    """A line time as OPC UA carries it (naive line times are read as UTC, as the line server does)."""
    return ts.tz_localize(timezone.utc).to_pydatetime() if ts.tzinfo is None else ts.tz_convert(timezone.utc).to_pydatetime()


def scripted_presses(cfg: DictConfig, scenario: str | None = None) -> tuple[ScriptedPresses, pd.DataFrame, pd.Timestamp]:
    """(the presses of the day-ahead plan with the scenario's events, that plan, the day's first hour)."""
    from pipeline.contracts.prices import read_price_file

    rp = cfg.replan
    plan = read_plan(rp.plan)
    presses, hours = int(plan["press"].max()) + 1, int(plan["hour"].max()) + 1
    name = scenario or str(rp.line.scenario)
    if name not in rp.scenarios:
        raise ValueError(f"scenario {name!r} (--scenario, replan.line.scenario): allowed one of {', '.join(rp.scenarios)}")
    prices_file = Path(cfg.paths.data) / str(cfg.optimize.prices_file)
    prices = read_price_file(prices_file)
    if len(prices) < hours:
        raise ValueError(f"{prices_file}: {len(prices)} hourly prices, the plan ({rp.plan}) has {hours} hours")
    prices = prices.iloc[:hours]
    events = parse_events(name, rp.scenarios[name], presses, hours)
    prices = prices["price_usd_per_mwh"].to_numpy(float), pd.Timestamp(prices["timestamp"].iloc[0])
    if presses > 1 and "room" in plan.columns:  # a plant of several presses: each plays its own
        line = plant_line(cfg, plan)
        sim = ScriptedPresses(events, prices[0], {s: [p.normal[s] for p in line] for s in MEASURED}, presses,
                              [p.max_per_hour for p in line], [p.maintenance_hours for p in line], rp.line.noise,
                              int(cfg.seed))
        sim.line = line
        return sim, plan, prices[1]
    normal = {s: float(cfg.optimize.fixed_inputs[s]) for s in MEASURED}  # the press's setpoints
    prod = cfg.optimize.production
    sim = ScriptedPresses(events, prices[0], normal, presses,
                          int(prod.max_per_hour), float(prod.maintenance_hours), rp.line.noise, int(cfg.seed))
    return sim, plan, prices[1]


def plant_line(cfg: DictConfig, plan: pd.DataFrame) -> list[LinePress]:
    """The presses of optimize's plant, checked against the plan's (names and rooms, in order)."""
    line = line_presses(cfg.optimize)
    rows = plan[plan["hour"] == 0].sort_values("press")
    named = list(zip(rows.get("press_name", rows["press"].astype(str)), rows["room"]))
    if [(p.name, p.room) for p in line] != [(str(n), str(r)) for n, r in named]:
        raise ValueError(f"{cfg.replan.plan}: presses {named} (press_name, room), but optimize's plant has "
                         f"{[(p.name, p.room) for p in line]}: run `dvc repro optimize` with this plant")
    return line


class PressServer:
    """The scripted presses behind OPC UA variables; `run` plays the day into them."""

    def __init__(self, cfg: DictConfig, sim: ScriptedPresses, plan: pd.DataFrame, day_start: pd.Timestamp,
                 endpoint: str | None = None):
        self.cfg, self.rp = cfg, cfg.replan
        self.sim, self.plan, self.day_start = sim, plan, day_start
        self.endpoint = endpoint or str(self.rp.endpoint)
        self.security = Settings.from_conf(cfg.live.security)
        self.server = None
        self.nodes: dict[tuple[str, int | None], object] = {}
        self.ticks = 0
        self.sources: list[str] = []   # per hour started: "planner v<N>" or "day-ahead"
        self.line: list[LinePress] | None = getattr(sim, "line", None)  # a plant of several presses: by name
        self.templates = node_templates(self.rp, sim.presses if self.line else 1)
        self._planner = None
        self._remaining: tuple[int, dict] | None = None  # (version, Plan.Remaining) of the last plan read

    async def start(self) -> "PressServer":
        from asyncua import ua

        # writes allowed: the planner writes Line.PlannerAck (lockstep), the only variable marked writable
        self.server = await new_server(self.endpoint, "tablet-pipeline scripted presses", self.security, PRESSES,
                                       allow_writes=True)
        idx = await self.server.register_namespace(str(self.rp.namespace))
        objects = self.server.nodes.objects
        self.kinds = {**{s: ua.VariantType.Double for s in MEASURED}, "running": ua.VariantType.Boolean,
                      "units": ua.VariantType.Int64, "maintenances": ua.VariantType.Int64, "prices": ua.VariantType.Double}
        initial = {"running": True, "units": 0, "maintenances": 0}
        for k in range(self.sim.presses):
            name = self.line[k].name if self.line else None
            folder = await objects.add_folder(idx, name or f"Press{k}")
            for signal in PRESS_SIGNALS:
                kind = self.kinds[signal]
                var = await folder.add_variable(ua.NodeId(signal_node(self.templates, signal, k, name), idx), signal,
                                                initial.get(signal, float("nan")), varianttype=kind)
                await self._no_sample_yet(var, initial.get(signal, float("nan")), kind)
                self.nodes[(signal, k)] = var.nodeid
        plant = await objects.add_folder(idx, "Plant")
        for signal, initial_value, kind in (("prices", [float("nan")] * self.sim.hours, ua.VariantType.Double),
                                            ("clock", as_utc(self.day_start), ua.VariantType.DateTime),
                                            ("ack", as_utc(self.day_start - pd.Timedelta(days=1)), ua.VariantType.DateTime)):
            var = await plant.add_variable(ua.NodeId(signal_node(self.rp.nodes, signal), idx), signal, initial_value,
                                           varianttype=kind)
            if signal == "ack":
                await var.set_writable()
            else:
                await self._no_sample_yet(var, initial_value, kind)
            self.nodes[(signal, None)] = var.nodeid
        await self.server.start()
        return self

    @staticmethod
    async def _no_sample_yet(var, value, kind) -> None:
        """A variable's value before the first tick: status BadWaitingForInitialData (no sample yet)."""
        from asyncua import ua

        await var.write_value(ua.DataValue(ua.Variant(value, kind), StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData)))

    async def stop(self) -> None:
        if self._planner is not None:
            await self._disconnect_planner()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def _write(self, key, value, kind, source: datetime, now: datetime) -> None:
        from asyncua import ua

        dv = ua.DataValue(ua.Variant(value, kind), SourceTimestamp=source, ServerTimestamp=now)
        await self.server.write_attribute_value(self.nodes[key], dv)

    async def publish(self, sample) -> None:
        """Every signal of one tick, the clock last."""
        from asyncua import ua

        source, now = as_utc(self.day_start + pd.Timedelta(seconds=sample.time_s)), datetime.now(timezone.utc)
        for key, value in sample.signals().items():
            await self._write(key, value, self.kinds[key[0]], source, now)
        await self._write(("clock", None), source, ua.VariantType.DateTime, source, now)
        self.ticks += 1

    async def hour_plan(self, hour: int) -> HourPlan:
        """What the planner published for `hour`; where it cannot be read, the hour of the last plan
        read from it (its Plan.Remaining), as a PLC keeps the last schedule it got; else the day-ahead plan's."""
        published = await self._read_planner(hour)
        if published is not None:
            self.sources.append(f"planner v{published.version}")
            return published
        held = self._held_hour(hour)
        if held is not None:
            self.sources.append(f"planner v{held.version} (held)")
            return held
        self.sources.append("day-ahead")
        return hour_plan_from_table(self.plan, hour)

    def _held_hour(self, hour: int) -> HourPlan | None:
        if self._remaining is None:
            return None
        version, rest = self._remaining
        i = hour - int(rest["first_hour"])
        if not 0 <= i < len(rest["temperature_C"]):
            return None
        if "room_of" in rest:  # a plant: each room's setpoints, each press its room's
            T = [float(rest["temperature_C"][r][i]) for r in rest["room_of"]]
            H = [float(rest["humidity_pct"][r][i]) for r in rest["room_of"]]
        else:
            T, H = float(rest["temperature_C"][i]), float(rest["humidity_pct"][i])
        return HourPlan(T, H, [int(u[i]) for u in rest["units"]], [int(b[i]) for b in rest["maintenance"]], version)

    async def _read_planner(self, hour: int) -> HourPlan | None:
        from asyncua import ua

        publish = self.rp.publish
        try:  # one short session an hour: nothing to keep alive between hours
            self._planner = client = new_client(str(publish.endpoint), float(self.rp.request_timeout_s))
            await connect_secured(client, self.security, PRESSES)
            idx = await client.get_namespace_index(str(publish.namespace))
            names = [plan_node(n) for n in ("Hour", "Version", "Temperature_C", "Humidity_pct", "Remaining")]
            if self.line:  # a plant: each press's room setpoints and its own target, by name
                names[2:4] = [plant_plan_node(n, room=p.room) for p in self.line for n in ROOM_VALUES]
                names += [plant_plan_node(n, p.name) for p in self.line for n in PRESS_VALUES]
            else:
                names += [plan_node(n, k) for k in range(self.sim.presses) for n in PRESS_VALUES]
            t0 = time.perf_counter()
            values = await client.read_values([client.get_node(ua.NodeId(n, idx)) for n in names])
            log.debug("hour %d: the planner's plan read in %.3f s", hour, time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - no planner (or a broken one): the last plan read, or the day-ahead
            log.warning("no plan from the planner for hour %d (%r)", hour, exc)
            await self._disconnect_planner()
            return None
        await self._disconnect_planner()
        if values[0] != hour:
            return None
        K = self.sim.presses
        setpoints = values[2:2 + 2 * K] if self.line else values[2:4]
        rest = values[2 + len(setpoints):]
        try:
            self._remaining = (int(values[1]), json.loads(rest[0]))
        except (TypeError, ValueError):
            self._remaining = None
        per_press = rest[1:]
        T = [float(v) for v in setpoints[0::2]] if self.line else float(setpoints[0])
        H = [float(v) for v in setpoints[1::2]] if self.line else float(setpoints[1])
        return HourPlan(T, H, [int(v) for v in per_press[0::2]], [int(bool(v)) for v in per_press[1::2]], int(values[1]))

    async def _disconnect_planner(self) -> None:
        client, self._planner = self._planner, None
        if client is not None:
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001 - a connection that never opened
                pass

    async def _acked(self, t_s: int, timeout_s: float) -> bool:
        """Lockstep: wait until the planner has written line time t_s (or later) to the ack node."""
        target = as_utc(self.day_start + pd.Timedelta(seconds=t_s))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.server.read_attribute_value(self.nodes[("ack", None)])
            ack = value.Value.Value
            if ack is not None and (ack if ack.tzinfo else ack.replace(tzinfo=timezone.utc)) >= target:
                return True
            await asyncio.sleep(0.002)
        return False

    async def run(self, speed: float, start_s: int = 0, end_s: int | None = None) -> int:
        """Play the day from the presses' current second (unobserved before `start_s`) to `end_s`."""
        line = self.rp.line
        tick_s, timeout = int(line.tick_s), float(line.ack_timeout_s)
        t0 = first = None
        for kind, when in steps(self.sim, tick_s, start_s, end_s):
            if kind == "hour":
                self.sim.start_hour(await self.hour_plan(when) if when * HOUR >= start_s else
                                    hour_plan_from_table(self.plan, when))
                continue
            if speed > 0:
                if first is None:
                    first, t0 = when, time.perf_counter()
                await asyncio.sleep(max(0.0, t0 + (when - first) / speed - time.perf_counter()))
            await self.publish(self.sim.sample())
            if speed <= 0 and not await self._acked(when, timeout):
                log.warning("no ack from the planner for %s within %.0f s (replan.line.ack_timeout_s): going on",
                            self.day_start + pd.Timedelta(seconds=when), timeout)
        return self.ticks


async def serve(cfg: DictConfig, scenario: str | None, speed: float, start: str | None, end: str | None) -> None:
    sim, plan, day_start = scripted_presses(cfg, scenario)
    start_s = int(clock_seconds(start, "--from")) if start else 0
    end_s = int(clock_seconds(end, "--to")) if end else None
    server = await PressServer(cfg, sim, plan, day_start).start()
    pace = "lockstep with the planner" if speed <= 0 else f"{speed:g}x"
    print(f"scripted presses ({scenario or cfg.replan.line.scenario}) on {server.endpoint}: {sim.presses} press(es), "
          f"day {day_start:%Y-%m-%d}, {pace}; {server.security.describe()}", flush=True)
    try:
        ticks = await server.run(speed, start_s, end_s)
        print(f"published {ticks} ticks; hours ran {', '.join(server.sources)}", flush=True)
        print("serving the last values until Ctrl-C", flush=True)
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    from pipeline.core.config import load_params
    from pipeline.core.settings import live, optimize, replan, run

    parser = argparse.ArgumentParser(description="Publish scripted presses as OPC UA variables (loopback).")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    parser.add_argument("--scenario", default=None, help="one of replan.scenarios (default: replan.line.scenario)")
    parser.add_argument("--speed", type=float, default=None,
                        help="line seconds per wall second (default: replan.line.speed; 0 = lockstep with the planner)")
    parser.add_argument("--from", dest="start", default=None, help="first time to publish, HH:MM (default: replan.line.start)")
    parser.add_argument("--to", dest="end", default=None, help="stop at this time of the day, HH:MM (default: the day's end)")
    add_policy_flag(parser)
    args = parser.parse_args()
    # the flags are overrides by another name: checked by the same schema
    flags = {"replan.line.scenario": args.scenario, "replan.line.speed": args.speed,
             "live.security.policy": args.security_policy}
    cfg = load_params(args.params, {"replan": replan.Replan, "optimize": optimize.Optimize, "paths": run.Paths,
                                    "seed": run.Seed, "live": live.Live},
                      [f"{key}={value}" for key, value in flags.items() if value is not None])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    speed = float(args.speed if args.speed is not None else cfg.replan.line.speed)
    try:
        asyncio.run(serve(cfg, args.scenario, speed, args.start or cfg.replan.line.get("start"), args.end))
    except KeyboardInterrupt:
        print("stopped", flush=True)


if __name__ == "__main__":
    from pipeline.core.cli import expected_errors, take_debug_flag

    sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    with expected_errors("press server", ()):
        main()
