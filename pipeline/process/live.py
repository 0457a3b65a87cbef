"""Live monitoring of a line over OPC UA: subscribe to its tags, forecast with the ONNX LSTM,
warn with the stage's own rule, publish warnings and recommendations.

    python -m pipeline.process.live                         # conf/live/opcua.yaml: server, node ids
    python -m pipeline.process.live --model models:/tablet-process-lstm@champion

Tags (node ids from conf) arrive as OPC UA data changes; live_align puts them on the model's
grid as prepare_line aligns a recording; each completed step goes through the ONNX forecaster
and `EarlyWarning.update` (pipeline/process/control.py: the rule train_process scored, its
settings read from the model's metadata). Warnings go to <out>/live_warnings.csv (flushed per
warning), the log, and the monitor's own OPC UA variables (live.publish); missing, silent and
stuck tags to <out>/live_flags.csv. The client reconnects by itself after a server restart
(asyncua's auto-reconnect re-creates the subscription); the loss and the reconnection are
flagged there too (connection_lost, reconnected). <out>/live.json holds the latencies:
from the server's timestamp of the sample that completed a step to the rule's decision.
"""
from __future__ import annotations

import argparse
import sys
import asyncio
import csv
import logging
import math
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.opcua_nodes import node_id
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.opcua_connect import connect_with_retry, new_client, new_server
from pipeline.core.opcua_security import MONITOR, Settings, add_policy_flag, policy_override
from pipeline.process.control import WARNING_COLUMNS
from pipeline.process.live_align import Aligner, Flag, Step
from pipeline.process.monitor import StepMonitor, latency_summary

log = logging.getLogger("pipeline.process.live")
FLAG_COLUMNS = ["line_time", "channel", "flag", "detail"]
WARNING_FIELDS = [*WARNING_COLUMNS, "latency_ms"]


def resolve_model(model: str) -> Path:
    """An ONNX file, or a registered version (models:/<name>@<alias> | models:/<name>/<version>)."""
    if model.startswith("models:/"):
        from pipeline.core.registry import fetch

        return fetch(model).path / "model.onnx"
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"{path}: ONNX model not found (live.model)")
    return path


class Publisher:
    """The monitor's own OPC UA variables (a SCADA or historian subscribes to them)."""

    NAMES = ("Warning", "Target", "Direction", "Recommendation", "WarningTime", "WarningCount", "TagFlags", "LastStep")

    def __init__(self, live: DictConfig):
        self.cfg = live.publish
        self.security = Settings.from_conf(live.security)
        self.server, self.vars = None, {}

    async def start(self) -> None:
        if not self.cfg.get("endpoint"):
            return
        from asyncua import ua

        self.server = await new_server(str(self.cfg.endpoint), "tablet-pipeline line monitor", self.security, MONITOR)
        idx = await self.server.register_namespace(str(self.cfg.namespace))
        folder = await self.server.nodes.objects.add_folder(idx, "Monitor")
        for name in self.NAMES:
            initial = 0 if name == "WarningCount" else ""
            kind = ua.VariantType.Int64 if name == "WarningCount" else ua.VariantType.String
            self.vars[name] = await folder.add_variable(ua.NodeId(f"Monitor.{name}", idx), name, initial, varianttype=kind)
        await self.server.start()

    async def warning(self, w: dict, count: int) -> None:
        if self.server is None:
            return
        values = {"Warning": f"{w['target']} {w['direction']}", "Target": w["target"], "Direction": w["direction"],
                  "Recommendation": w["recommendation"], "WarningTime": str(w["time"]), "WarningCount": count}
        for name, value in values.items():
            await self.vars[name].write_value(value)

    async def text(self, name: str, value: str) -> None:
        if self.server is not None:
            await self.vars[name].write_value(value)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


class LiveMonitor:
    def __init__(self, cfg: DictConfig, onnx_path: Path, out_dir: Path, endpoint: str | None = None):
        self.live = cfg.live
        self.endpoint = endpoint or str(self.live.endpoint)
        self.security = Settings.from_conf(self.live.security)
        self.model = StepMonitor(onnx_path)
        self.out = ensure_dir(out_dir)
        self.publisher = Publisher(self.live)
        self.latency_ms: list[float] = []
        self.warning_latency_ms: list[float] = []
        self.warnings: list[dict] = []
        self.steps = self.forecasts = self.samples = 0
        self.flags_written = 0
        self.aligner: Aligner | None = None
        self.last_sample_wall = time.time()
        self.silent_flagged = False
        self.connections = 0                  # initial connections made
        self.connection_losses = self.reconnects = 0
        self.client = None
        self.last_forecast_s = math.nan       # line time of the newest step forecast
        self.subscribed = asyncio.Event()  # set once every tag is subscribed (tests start the line then)

    async def _subscribe(self, client):
        from asyncua import ua

        live = self.live
        idx = await client.get_namespace_index(str(live.namespace))
        nodes, periods, missing = [], [], []
        for i, channel in enumerate(self.model.channels):
            node = client.get_node(ua.NodeId(node_id(live, channel), idx))
            try:
                ms = await node.read_attribute(ua.AttributeIds.MinimumSamplingInterval)
                ms.StatusCode.check()
                period = float(ms.Value.Value) / 1000.0 if ms.Value.Value and ms.Value.Value > 0 else None
            except ua.UaStatusCodeError as exc:
                missing.append((i, f"node {node.nodeid.to_string()} not on the server ({type(exc).__name__})"))
                period = None
            nodes.append(node)
            periods.append(period or float(live.sample_period_s))
        return nodes, periods, missing

    def _aligner(self, periods: list[float]) -> Aligner:
        live = self.live
        return Aligner(self.model.channels, self.model.period_s, periods, float(live.ffill_limit_s),
                       float(live.grace_s), float(live.stale_after_s), float(live.stuck_after_s),
                       max_empty_steps=self.model.window.L)

    async def run(self, stop: asyncio.Event | None = None, max_steps: int | None = None) -> dict:
        from asyncua import ua
        from asyncua.common.subscription import DataChangeEvent, OverflowPolicy

        stop = stop or asyncio.Event()
        live = self.live
        await self.publisher.start()
        client = self.client = new_client(self.endpoint, float(live.request_timeout_s), float(live.reconnect_max_delay_s))
        client.connection_lost_callback = self._connection_lost
        warnings_file = open(self.out / "live_warnings.csv", "w", newline="")
        flags_file = open(self.out / "live_flags.csv", "w", newline="")
        self.warn_csv = csv.DictWriter(warnings_file, fieldnames=WARNING_FIELDS)
        self.flag_csv = csv.DictWriter(flags_file, fieldnames=FLAG_COLUMNS)
        self.warn_csv.writeheader(), self.flag_csv.writeheader()
        self.files = (warnings_file, flags_file)
        watchdog = None
        try:
            await self._connect(client)
            nodes, periods, missing = await self._subscribe(client)
            self.aligner = self._aligner(periods)
            for i, why in missing:
                self.aligner.mark_missing(i, why)
            channel_of = {n.nodeid: i for i, n in enumerate(nodes)}
            sub = await client.create_subscription(float(live.publishing_interval_ms), handler=None,
                                                   queue_maxsize=int(live.client_queue), overflow=OverflowPolicy.WARN)
            flt = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)  # every sample, changed or not
            present = [n for i, n in enumerate(nodes) if i not in dict(missing)]
            # asyncua's public subscribe_data_change takes no filter; _subscribe is what it calls with one
            handles = await sub._subscribe(present, ua.AttributeIds.Value, flt, queuesize=int(live.queue_size))
            for node, handle in zip(present, handles):
                if isinstance(handle, ua.StatusCode):  # refused by the server: the tag is missing
                    self.aligner.mark_missing(channel_of[node.nodeid], f"node {node.nodeid.to_string()}: {handle.name}")
            await self._write_flags()
            self.subscribed.set()
            watchdog = asyncio.create_task(self._watch(stop))
            log.info("monitoring %d tags on %s; OPC UA %s", len(present), self.endpoint,
                     f"{self.security.mode} as user {self.security.user}" if self.security.enabled
                     else self.security.describe())
            while not stop.is_set():
                event = await sub.next_event(timeout=0.5)
                if not isinstance(event, DataChangeEvent):
                    continue
                dv = event.data.monitored_item.Value
                value, source = dv.Value.Value, dv.SourceTimestamp
                if source is None or value is None:
                    continue
                i = channel_of[event.node.nodeid]
                wall = dv.ServerTimestamp.timestamp() if dv.ServerTimestamp else time.time()
                self.samples += 1
                self.last_sample_wall = time.time()
                for step in self.aligner.add(i, source.timestamp(), value, wall):
                    await self._step(step)
                    if max_steps is not None and self.steps >= max_steps:
                        stop.set()
                if self.aligner.flags:
                    await self._write_flags()
        finally:
            if watchdog is not None:
                watchdog.cancel()
            await client.disconnect()
            await self.publisher.stop()
            for fh in self.files:
                fh.close()
        return self.summary()

    async def _connect(self, client) -> None:
        await connect_with_retry(client, self.endpoint, float(self.live.connect_timeout_s),
                                 "live.endpoint, live.connect_timeout_s; start one with `python -m pipeline.data.line_opcua`",
                                 self.security, MONITOR)
        self.connections += 1

    async def _connection_lost(self, exc: Exception) -> None:
        """asyncua's callback when its supervisor finds the connection gone (it then reconnects)."""
        self.connection_losses += 1
        self.aligner.flags.append(Flag(self.aligner.newest_s, "*", "connection_lost", f"{exc!r}; reconnecting"))

    def _check_reconnected(self) -> None:
        from asyncua.client.ua_client import UaClientState

        if self.reconnects < self.connection_losses and self.client.state is UaClientState.CONNECTED:
            self.reconnects = self.connection_losses
            self.aligner.flags.append(Flag(self.aligner.newest_s, "*", "reconnected",
                                           "connected again; re-creating the subscription"))

    async def _watch(self, stop: asyncio.Event) -> None:
        """Every second: silent tags (line time), a silent server (wall time), a reconnection."""
        while not stop.is_set():
            await asyncio.sleep(1.0)
            self._check_reconnected()
            self.aligner.check_stale()
            quiet = time.time() - self.last_sample_wall
            if quiet >= float(self.live.server_silent_s) and not self.silent_flagged:
                self.silent_flagged = True
                self.aligner.flags.append(Flag(self.aligner.newest_s, "*", "server_silent",
                                               f"no sample for {quiet:.0f} s (server down or line stopped); reconnecting"))
            elif quiet < 1.0 and self.silent_flagged:
                self.silent_flagged = False
                self.aligner.flags.append(Flag(self.aligner.newest_s, "*", "server_back", "samples arrive again"))
            if self.aligner.flags:
                await self._write_flags()

    async def _write_flags(self) -> None:
        flags, self.aligner.flags = self.aligner.flags, []
        for f in flags:
            when = str(pd.Timestamp(f.line_s, unit="s")) if math.isfinite(f.line_s) else ""
            self.flag_csv.writerow({"line_time": when, "channel": f.channel, "flag": f.flag, "detail": f.detail})
            log.warning("tag %s: %s (%s)", f.channel, f.flag, f.detail)
            self.flags_written += 1
        self.files[1].flush()
        if flags:
            await self.publisher.text("TagFlags", "; ".join(f"{f.channel}: {f.flag}" for f in flags[-5:]))

    async def _step(self, step: Step) -> None:
        when = pd.Timestamp(step.start_s, unit="s")
        made, warnings = self.model.step(when, step.row)
        self.steps += 1
        if not made:
            return
        self.forecasts += 1
        self.last_forecast_s = step.start_s
        latency = (time.time() - step.closed_by_wall) * 1000.0 if math.isfinite(step.closed_by_wall) else math.nan
        for w in warnings:
            self.warnings.append(w)
            await self.publisher.warning(w, len(self.warnings))
            latency = (time.time() - step.closed_by_wall) * 1000.0
            self.warning_latency_ms.append(latency)
            self.warn_csv.writerow({**w, "latency_ms": latency})
            self.files[0].flush()
            log.warning("[%s] WARNING %s", w["time"], w["recommendation"])
        if math.isfinite(latency):
            self.latency_ms.append(latency)
        await self.publisher.text("LastStep", str(when))

    def summary(self) -> dict:
        metrics = {"endpoint": self.endpoint, "samples": self.samples, "steps": self.steps,
                   "forecasts": self.forecasts, "warnings": len(self.warnings), "flags": self.flags_written,
                   "connection_losses": self.connection_losses, "reconnects": self.reconnects,
                   "refused_samples": sum(tag.refused for tag in self.aligner.tags) if self.aligner else 0,
                   "value_to_decision_ms": latency_summary(self.latency_ms),
                   "value_to_warning_ms": latency_summary(self.warning_latency_ms)}
        write_json(self.out / "live.json", metrics)
        return metrics


def main() -> None:
    from pipeline.core.config import load_params
    from pipeline.core.settings import live, run, tracking
    from pipeline.core.tracking import tracking_uri

    parser = argparse.ArgumentParser(description="Monitor a line over OPC UA with the ONNX forecaster and warning rule.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    parser.add_argument("--model", default=None, help="ONNX file or models:/<name>@<alias> (default: live.model)")
    parser.add_argument("--endpoint", default=None, help="OPC UA server (default: live.endpoint)")
    parser.add_argument("--out", default=None, help="output folder (default: live.out)")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many grid steps (default: run until Ctrl-C)")
    add_policy_flag(parser)
    args = parser.parse_args()
    # --security-policy is an override by another name: checked by the same schema
    cfg = load_params(args.params, {"live": live.Live, "tracking": tracking.Tracking, "paths": run.Paths},
                      policy_override(args))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    onnx_path = resolve_model(args.model or str(cfg.live.model))
    monitor = LiveMonitor(cfg, onnx_path, Path(args.out or cfg.live.out), args.endpoint)
    try:
        m = asyncio.run(monitor.run(max_steps=args.steps))
    except KeyboardInterrupt:
        m = monitor.summary()
    lat = m["value_to_decision_ms"]
    print(f"live monitor: {m['steps']} steps, {m['forecasts']} forecasts, {m['warnings']} warnings, {m['flags']} tag flags; "
          f"value-to-decision p50 {lat['p50'] or float('nan'):.1f} ms, p99 {lat['p99'] or float('nan'):.1f} ms")


if __name__ == "__main__":
    from pipeline.core.cli import expected_errors, take_debug_flag
    from pipeline.core.registry import ModelNotFound

    sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    with expected_errors("live monitor", (ConnectionError, ModelNotFound)):
        main()
