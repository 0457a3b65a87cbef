"""The planner on OPC UA: a client of the press server, a server of its own plan.

Signals (conf/replan `nodes`) arrive as data changes (every sample, changed or not) and update the
planner's PlantState; the clock closes a tick once every other signal has delivered that line time
(or `grace_s` of wall time has passed). Each tick goes through `Replanner.tick`; a trigger re-plans
in a worker thread (the client's keep-alives and the planner's own server go on meanwhile), and
the new version is published on the planner's server (Plan.*, Planner.*), written to its files,
then logged to MLflow in the background. Its latency runs from the tick's server timestamp to the
end of the publish.

A node that is missing or falls silent, and a lost connection, are flagged (flags.csv, the log,
Planner.Flags) and hold the planner: while held it re-plans nothing, keeps the last proven plan
and goes on publishing that plan's next hour. asyncua's auto-reconnect re-creates the
subscription after a server restart (flagged connection_lost / reconnected).
"""
from __future__ import annotations

import asyncio
import csv
import logging
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.press_signals import (PLAN_VALUES, PLANNER_VALUES, PRESS_SIGNALS, PRESS_VALUES, ROOM_VALUES,
                                              node_templates, plan_node, plant_plan_node, signal_node)
from pipeline.core.io import write_json
from pipeline.core.opcua_connect import connect_with_retry, new_client, new_server
from pipeline.core.opcua_security import PLANNER, Settings
from pipeline.optimize.live.planner import Flag, Replanner
from pipeline.optimize.live.tracking import VersionTracker
from pipeline.optimize.live.versions import PlanVersion, VersionFiles

log = logging.getLogger("pipeline.optimize.live")
FLAG_COLUMNS = ["line_time", "flag", "detail"]


def _one_decimal(value) -> str:
    """A setpoint (or each room's) as the log shows it."""
    return "/".join(f"{v:.1f}" for v in value) if isinstance(value, list) else f"{value:.1f}"


def utc(ts: pd.Timestamp) -> datetime:
    return ts.tz_localize(timezone.utc).to_pydatetime() if ts.tzinfo is None else ts.tz_convert(timezone.utc).to_pydatetime()


class PlanPublisher:
    """The planner's own variables: the next hour's setpoints and targets, the version, its trigger,
    status and gap; the planner's line time, held state and flags. A plant of several presses
    (`names`, `rooms`): each room's setpoints and each press's target and flag by name."""

    def __init__(self, rp: DictConfig, presses: int, day_start: pd.Timestamp, security: Settings,
                 endpoint: str | None = None, names: list[str] | None = None, rooms: list[str] | None = None):
        self.rp, self.presses, self.day_start, self.security = rp, presses, day_start, security
        self.names, self.rooms = names, rooms
        self.endpoint = endpoint or str(rp.publish.endpoint)
        self.server, self.vars = None, {}
        self.published: tuple[int, int] | None = None  # (version, hour) on the variables now

    async def start(self) -> None:
        from asyncua import ua

        self.server = await new_server(self.endpoint, "tablet-pipeline live planner", self.security, PLANNER)
        idx = await self.server.register_namespace(str(self.rp.publish.namespace))
        objects = self.server.nodes.objects
        initial = {"Int64": -1, "String": "", "Double": float("nan"), "Boolean": False}
        folders = {"Plan": await objects.add_folder(idx, "Plan"), "Planner": await objects.add_folder(idx, "Planner")}
        names = [(plan_node(n), kind) for n, kind in {**PLAN_VALUES, **PLANNER_VALUES}.items()]
        if self.names:
            names += [(plant_plan_node(n, press), kind) for press in self.names for n, kind in PRESS_VALUES.items()]
            names += [(plant_plan_node(n, room=room), kind) for room in self.rooms for n, kind in ROOM_VALUES.items()]
        else:
            names += [(plan_node(n, k), kind) for k in range(self.presses) for n, kind in PRESS_VALUES.items()]
        for node, kind in names:
            folder = folders[node.split(".")[0]]
            self.vars[node] = await folder.add_variable(ua.NodeId(node, idx), node.split(".", 1)[1], initial[kind],
                                                        varianttype=getattr(ua.VariantType, kind))
        await self.server.start()

    async def _set(self, name: str, value, press: int | None = None, node: str | None = None) -> None:
        from asyncua import ua

        kind = getattr(ua.VariantType, {**PLAN_VALUES, **PLANNER_VALUES, **PRESS_VALUES}[name])
        await self.vars[node or plan_node(name, press)].write_value(ua.Variant(value, kind))

    async def plan(self, version: PlanVersion, hour: int) -> None:
        """`version`'s hour `hour` (the next one) and the version's own description."""
        if self.server is None or not 0 <= hour < version.hours:
            return
        nxt = version.next_hour(hour)
        if self.names:  # a plant: by press and room name (Plan.Temperature_C / Humidity_pct stay unset)
            for k, press in enumerate(self.names):
                for name, key in (("Target", "units"), ("Maintenance", "maintenance")):
                    await self._set(name, nxt[key][k], node=plant_plan_node(name, press))
            for r, room in enumerate(self.rooms):
                for name, key in (("Temperature_C", "temperature_C"), ("Humidity_pct", "humidity_pct")):
                    await self._set(name, nxt[key][r], node=plant_plan_node(name, room=room))
        else:
            for k in range(self.presses):
                await self._set("Target", nxt["units"][k], k)
                await self._set("Maintenance", nxt["maintenance"][k], k)
            await self._set("Temperature_C", nxt["temperature_C"])
            await self._set("Humidity_pct", nxt["humidity_pct"])
        await self._set("HourStart", str(self.day_start + pd.Timedelta(hours=hour)))
        await self._set("Version", version.version)
        await self._set("Trigger", version.trigger)
        await self._set("Status", version.status)
        await self._set("Gap", float(version.gap) if version.gap is not None else float("nan"))
        await self._set("Objective", float(version.objective) if version.objective is not None else float("nan"))
        await self._set("Remaining", version.remaining_json(hour))
        await self._set("Hour", hour)  # last: a reader that sees the hour sees its values
        self.published = (version.version, hour)

    async def status(self, line_time: str, held: bool, flags: str | None = None) -> None:
        if self.server is None:
            return
        await self._set("LineTime", line_time)
        await self._set("Held", held)
        if flags is not None:
            await self._set("Flags", flags)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


class LivePlanner:
    def __init__(self, cfg: DictConfig, replanner: Replanner, out: Path, day_start: pd.Timestamp,
                 endpoint: str | None = None, track: bool = True):
        self.cfg, self.rp = cfg, cfg.replan
        self.planner, self.day_start = replanner, day_start
        self.day_start_utc = utc(day_start)
        self.endpoint = endpoint or str(self.rp.endpoint)
        self.out = Path(out)
        self.files = VersionFiles(self.out)
        self.tracker = VersionTracker(cfg, f"{day_start:%Y-%m-%d}") if track else None
        self.security = Settings.from_conf(cfg.live.security)
        several = replanner.day.presses > 1
        self.names = replanner.day.machine_names if several else None
        self.templates = node_templates(self.rp, replanner.day.presses)
        self.publisher = PlanPublisher(self.rp, replanner.day.presses, day_start, self.security, names=self.names,
                                       rooms=[room.name for room in replanner.day.plant.rooms] if several else None)
        self.keys: dict = {}                 # nodeid -> (signal, press)
        self.missing: dict[tuple, str] = {}
        self.newest: dict[tuple, float] = {}
        self.pending: deque = deque()        # (line s, server wall s, arrival monotonic) of clock ticks
        self.line_s: float | None = None
        self.reack: float | None = None
        self.outside_day: set = set()
        self.refusing: set = set()  # (signal, press) whose newest sample was refused
        self.ticks = self.replans = 0
        self.latency_s: list[float] = []
        self.triggers: dict[str, int] = {}
        self.held_ticks = 0
        self.connection_losses = self.reconnects = 0
        self.connected = False
        self.client = None
        self.ack_node = None
        self.subscribed = asyncio.Event()
        self._flags_file = open(self.out / "flags.csv", "w", newline="")
        self._flags = csv.DictWriter(self._flags_file, fieldnames=FLAG_COLUMNS)
        self._flags.writeheader()
        self._flags_written = 0
        first = replanner.plan
        self._record(first, None)

    # ---- connection and subscription
    async def _connect(self, client) -> None:
        await connect_with_retry(client, self.endpoint, float(self.rp.connect_timeout_s),
                                 "replan.endpoint; start one with `python -m pipeline.data.press_opcua`",
                                 self.security, PLANNER)
        self.connected = True

    async def _nodes(self, client) -> list:
        """The configured signal nodes the server has (missing ones flagged), and the ack node."""
        from asyncua import ua

        idx = await client.get_namespace_index(str(self.rp.namespace))
        wanted = [(s, k) for k in range(self.planner.day.presses) for s in PRESS_SIGNALS] + [("prices", None), ("clock", None)]
        present = []
        for signal, press in wanted:
            name = self.names[press] if self.names and press is not None else None
            node = client.get_node(ua.NodeId(signal_node(self.templates, signal, press, name), idx))
            try:
                await node.read_node_class()  # the node exists (its value may still wait for a first sample)
            except ua.UaStatusCodeError as exc:
                self.missing[(signal, press)] = f"node {node.nodeid.to_string()} not on the server ({type(exc).__name__})"
                continue
            self.keys[node.nodeid] = (signal, press)
            present.append(node)
        ack = client.get_node(ua.NodeId(signal_node(self.rp.nodes, "ack"), idx))
        try:
            await ack.read_node_class()
            self.ack_node = ack
        except ua.UaStatusCodeError:
            self.ack_node = None  # no lockstep server: nothing to acknowledge
        return present

    async def _connection_lost(self, exc: Exception) -> None:
        self.connection_losses += 1
        self.connected = False
        self._flag("connection_lost", f"{exc!r}; reconnecting, the last proven plan stays")

    def _check_reconnected(self) -> None:
        from asyncua.client.ua_client import UaClientState

        if not self.connected and self.client is not None and self.client.state is UaClientState.CONNECTED \
                and self.reconnects < self.connection_losses:
            self.reconnects = self.connection_losses
            self.connected = True
            self._flag("reconnected", "connected again; re-creating the subscription")

    # ---- the loop
    async def run(self, stop: asyncio.Event | None = None, until_s: float | None = None) -> dict:
        from asyncua import ua
        from asyncua.common.subscription import DataChangeEvent, OverflowPolicy

        stop = stop or asyncio.Event()
        await asyncio.to_thread(self.planner.warm_start)
        await self.publisher.start()
        await self.publisher.plan(self.planner.plan, 0)
        client = self.client = new_client(self.endpoint, float(self.rp.request_timeout_s),
                                          float(self.rp.reconnect_max_delay_s))
        client.connection_lost_callback = self._connection_lost
        status = "FINISHED"
        try:
            await self._connect(client)
            nodes = await self._nodes(client)
            for (signal, press), why in self.missing.items():
                self._flag("missing", f"{signal}{'' if press is None else f' of press {press}'}: {why}; held")
            sub = await client.create_subscription(float(self.rp.publishing_interval_ms), handler=None,
                                                   queue_maxsize=0, overflow=OverflowPolicy.WARN)
            flt = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
            # asyncua's public subscribe_data_change takes no filter; _subscribe is what it calls with one
            handles = await sub._subscribe(nodes, ua.AttributeIds.Value, flt, queuesize=100)
            for node, handle in zip(nodes, handles):
                if isinstance(handle, ua.StatusCode):
                    self.missing[self.keys[node.nodeid]] = f"node {node.nodeid.to_string()}: {handle.name}"
                    self._flag("missing", f"{self.keys[node.nodeid]}: refused ({handle.name}); held")
            self.subscribed.set()
            log.info("listening to %d signals on %s; publishing on %s", len(nodes), self.endpoint, self.publisher.endpoint)
            while not stop.is_set():
                event = await sub.next_event(timeout=0.1)
                self._check_reconnected()
                if isinstance(event, DataChangeEvent):
                    self._receive(event)
                if self.reack is not None:
                    await self._ack(self.reack)
                    self.reack = None
                await self._process_pending()
                if until_s is not None and self.line_s is not None and self.line_s >= until_s:
                    break
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "KILLED"
            raise
        except BaseException:
            status = "FAILED"
            raise
        finally:
            await self._close(client, status)
        return self.summary()

    def _receive(self, event) -> None:
        key = self.keys.get(event.node.nodeid)
        dv = event.data.monitored_item.Value
        if key is None or dv.SourceTimestamp is None or dv.Value is None or not dv.StatusCode.is_good():
            return  # not a sample (e.g. BadWaitingForInitialData before a server's first tick)
        source = dv.SourceTimestamp if dv.SourceTimestamp.tzinfo else dv.SourceTimestamp.replace(tzinfo=timezone.utc)
        t = (source - self.day_start_utc).total_seconds()
        if not 0 <= t <= self.planner.day.hours * 3600:  # e.g. a fresh server's initial values, stamped "now"
            if key not in self.outside_day:
                self.outside_day.add(key)
                self._flag("outside_day", f"{key[0]}{'' if key[1] is None else f' of press {key[1]}'}: a sample "
                                          f"stamped {source:%Y-%m-%d %H:%M:%S} is not of the plan's day; ignored")
            return
        signal, press = key
        if signal != "clock":  # a refused sample arrived, but holds re-planning until a good one follows
            (self.refusing.discard if self.planner.take(signal, press, dv.Value.Value, t) else self.refusing.add)(key)
        self.newest[key] = max(t, self.newest.get(key, -np.inf))
        if signal == "clock":
            server = dv.ServerTimestamp or datetime.now(timezone.utc)
            wall = (server if server.tzinfo else server.replace(tzinfo=timezone.utc)).timestamp()
            if self.line_s is not None and t <= self.line_s and not self.pending:
                self.reack = t  # a restarted server repeats a tick already processed: acknowledge it again
            elif not self.pending or t > self.pending[-1][0]:
                self.pending.append((t, wall, time.monotonic()))

    async def _process_pending(self) -> None:
        grace = float(self.rp.grace_s)
        while self.pending:
            t, wall, arrived = self.pending[0]
            late = [k for k in self.keys.values() if k[0] != "clock" and self.newest.get(k, -np.inf) < t]
            if late and time.monotonic() - arrived < grace:
                return
            self.pending.popleft()
            await self._tick(t, wall, late)

    def held(self, t: float, late: list) -> str | None:
        """Why the planner may not re-plan now (None: it may)."""
        if self.missing:
            return "missing " + ", ".join(f"{s}{'' if p is None else p}" for s, p in self.missing)
        if not self.connected:
            return "no connection to the press server"
        if self.refusing:
            return "refused " + ", ".join(f"{s}{'' if p is None else p}" for s, p in sorted(self.refusing, key=str))
        stale = [k for k in late if t - self.newest.get(k, -np.inf) > float(self.rp.stale_after_s)]
        if stale:
            return "stale " + ", ".join(f"{s}{'' if p is None else p}" for s, p in stale)
        return None

    async def _tick(self, t: float, wall: float, late: list) -> None:
        planner = self.planner
        self.line_s, self.ticks = t, self.ticks + 1
        hour_before = planner.hour
        triggers = planner.tick(t)
        why = self.held(t, late)
        when = str(self.day_start + pd.Timedelta(seconds=t))
        version = None
        if triggers and why is None:
            for trigger in triggers:
                self.triggers[trigger] = self.triggers.get(trigger, 0) + 1
            version = await asyncio.to_thread(planner.replan, t, triggers, when)
        elif triggers:
            self.held_ticks += 1
            self._flag("held", f"{'+'.join(triggers)} at {when}: not re-planned ({why}); the last proven plan stays")
        nxt = (planner.hour if planner.hour is not None else int(t // 3600)) + 1
        if version is not None:
            await self.publisher.plan(version, nxt)
            version.latency_s = time.time() - wall
            self.latency_s.append(version.latency_s)
            self.replans += 1
            self._record(version, t)
        elif planner.hour != hour_before and self.publisher.published != (planner.plan.version, nxt):
            await self.publisher.plan(planner.plan, nxt)
        if why is None and planner.warm_due:  # a probability change began: its re-plan's parts, prepared now
            await asyncio.to_thread(planner.warm_up)
        self._write_flags()
        await self.publisher.status(when, why is not None)
        await self._ack(t)

    async def _ack(self, t: float) -> None:
        if self.ack_node is None or not self.connected:
            return
        from asyncua import ua

        try:
            stamp = self.day_start_utc + pd.Timedelta(seconds=t).to_pytimedelta()
            await self.ack_node.write_value(ua.DataValue(ua.Variant(stamp, ua.VariantType.DateTime)))
        except Exception as exc:  # noqa: BLE001 - the server went away mid-write: the reconnect flags it
            log.debug("ack not written: %r", exc)

    # ---- records
    def _record(self, version: PlanVersion, t: float | None) -> None:
        path = self.files.write(version, self.planner.day, self.planner.net)
        if self.tracker is not None:
            self.tracker.version(version, path)
        if t is not None:
            nxt = min(version.first_hour, version.hours - 1)
            n = version.next_hour(nxt)
            gap = f"gap {version.gap:.1e}" if version.gap is not None else "gap -"
            log.info("[%s] v%d %s: %s, %s; hour %02d: T %s C, H %s %%RH, units %s, maintenance %s; %.2f s",
                     self.day_start + pd.Timedelta(seconds=t), version.version, version.trigger, version.status, gap,
                     nxt, _one_decimal(n["temperature_C"]), _one_decimal(n["humidity_pct"]), n["units"],
                     [int(b) for b in n["maintenance"]], version.latency_s or float("nan"))

    def _flag(self, what: str, detail: str) -> None:
        self.planner.flags.append(Flag(self.line_s if self.line_s is not None else float("nan"), what, detail))

    def _write_flags(self) -> None:
        flags = self.planner.flags[self._flags_written:]
        for f in flags:
            when = str(self.day_start + pd.Timedelta(seconds=f.line_s)) if np.isfinite(f.line_s) else ""
            self._flags.writerow({"line_time": when, "flag": f.what, "detail": f.detail})
            log.warning("%s: %s", f.what, f.detail)
        self._flags_written += len(flags)
        self._flags_file.flush()

    async def _close(self, client, status: str = "FINISHED") -> None:
        self._write_flags()
        try:
            await client.disconnect()
        except Exception:  # noqa: BLE001 - already gone
            pass
        await self.publisher.stop()
        self.files.close()
        self._flags_file.close()
        if self.tracker is not None:
            self.tracker.close(status)

    def summary(self) -> dict:
        lat = np.asarray(self.latency_s, float)
        pct = (lambda q: float(np.percentile(lat, q)) if len(lat) else None)  # noqa: E731
        metrics = {"endpoint": self.endpoint, "ticks": self.ticks, "replans": self.replans,
                   "versions": len(self.planner.versions), "triggers": self.triggers, "held_ticks": self.held_ticks,
                   "flags": len(self.planner.flags), "connection_losses": self.connection_losses,
                   "reconnects": self.reconnects,
                   "refused_samples": sum(self.planner.refused.values()), "signal_to_plan_s": {"p50": pct(50), "p99": pct(99), "max": pct(100)},
                   "mlflow_errors": self.tracker.errors if self.tracker is not None else None}
        write_json(self.out / "replan.json", metrics)
        return metrics
