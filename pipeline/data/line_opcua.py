"""The generated line as a live OPC UA server (asyncua), on loopback by default.

    python -m pipeline.data.line_opcua --speed 1              # 1 Hz, as the line runs
    python -m pipeline.data.line_opcua --speed 20 --from "2024-03-05 18:00:00"

Every channel of every sheet is one Double variable, node id `ns=<live.namespace>;s=<live.node_id
with {channel}>` (conf/live/opcua.yaml), under one folder per sheet. Each second of the line
(data.line, same seed as prepare_line, so the same disturbances) writes that second's values
with the line's time as SourceTimestamp and the wall clock as ServerTimestamp; a variable's
MinimumSamplingInterval is its sheet's period (tablet tests every 120 s, NIR every 60 s), which
tells a client which tags are slow. `--speed` > 1 runs faster than real time.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.line import TIMESTAMP
from pipeline.contracts.opcua_nodes import node_id
from pipeline.core.opcua_connect import new_server
from pipeline.core.opcua_security import LINE, Settings, add_policy_flag, policy_override
from pipeline.data.line.generator import LineSimulator
from pipeline.data.line.stage import generated_specs
from pipeline.data.line.stations import station_groups


def seconds(line: DictConfig, seed: int, start: pd.Timestamp | None = None,
            end: pd.Timestamp | None = None) -> Iterator[tuple[pd.Timestamp, list[tuple[str, float]]]]:
    """(line time, [(channel, value)]) for every second of the generated line from `start`
    (the run is generated from its beginning, so its state and disturbances are the recording's).
    From a `start` inside the run, each channel's last sample before it comes first, at its own
    time: the values a server holds when a client connects (a slow tag's last tablet test)."""
    if station_groups(line):
        raise ValueError("data.line.press.stations > 0: the live server publishes the line without "
                         "per-station channels; set data.line.press.stations=0")
    sim = LineSimulator(line, seed)
    before: dict[str, tuple[pd.Timestamp, float]] = {}
    for sheets in sim.chunks(int(line.chunk_seconds)):
        per_second: dict[pd.Timestamp, list[tuple[str, float]]] = {}
        for frame in sheets.values():
            cols = [c for c in frame.columns if c != TIMESTAMP]
            values = frame[cols].to_numpy(float)
            for ts, row in zip(frame[TIMESTAMP], values):
                if start is not None and ts < start:
                    before.update((c, (ts, v)) for c, v in zip(cols, row) if np.isfinite(v))
                elif end is None or ts < end:
                    per_second.setdefault(ts, []).extend((c, v) for c, v in zip(cols, row) if np.isfinite(v))
        if per_second and before:
            primed: dict[pd.Timestamp, list[tuple[str, float]]] = {}
            for c, (ts, v) in before.items():
                primed.setdefault(ts, []).append((c, v))
            yield from sorted(primed.items())
            before = {}
        yield from sorted(per_second.items())
        last = sheets[next(iter(sheets))][TIMESTAMP].iloc[-1]
        if end is not None and last >= end:
            return


def channel_periods(line: DictConfig) -> dict[str, float]:
    """Sampling period (s) of every channel, from its sheet's period."""
    sim_sheets = next(LineSimulator(line, 0).chunks(2))  # the first two seconds: the column names
    periods = generated_specs(line)
    return {c: periods[name] for name, frame in sim_sheets.items() for c in frame.columns if c != TIMESTAMP}


class LineServer:
    """An asyncua server with one variable per channel; `publish` streams the line into it."""

    def __init__(self, cfg: DictConfig, endpoint: str | None = None):
        self.cfg, self.live = cfg, cfg.live
        self.endpoint = endpoint or str(self.live.endpoint)
        self.server = None
        self.nodes: dict[str, object] = {}
        self.published_s = 0

    async def start(self) -> "LineServer":
        from asyncua import ua

        self.server = await new_server(self.endpoint, "tablet-pipeline simulated line",
                                       Settings.from_conf(self.live.security), LINE)
        idx = await self.server.register_namespace(str(self.live.namespace))
        line = self.cfg.data.line
        periods = channel_periods(line)
        sheets = {}
        for channel, period in periods.items():
            folder = sheets.get(period)
            if folder is None:
                folder = sheets[period] = await self.server.nodes.objects.add_folder(idx, f"Line every {period:g} s")
            var = await folder.add_variable(ua.NodeId(node_id(self.live, channel), idx), channel, float("nan"),
                                            varianttype=ua.VariantType.Double)
            await var.write_attribute(ua.AttributeIds.MinimumSamplingInterval,
                                      ua.DataValue(ua.Variant(period * 1000.0, ua.VariantType.Double)))
            self.nodes[channel] = var.nodeid
        await self.server.start()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def publish(self, speed: float, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                      on_second=None) -> int:
        """Write the line second by second, paced at `speed` x real time (0: as fast as possible)."""
        from asyncua import ua

        line = self.cfg.data.line
        t0, first = 0.0, None
        # The line is generated in a worker thread (the run up to `start` takes seconds): the
        # server's loop stays free to answer clients meanwhile (sessions, subscriptions, keep-alives).
        stream = seconds(line, int(self.cfg.seed), start, end)
        while (item := await asyncio.to_thread(next, stream, None)) is not None:
            ts, values = item
            if first is None and (start is None or ts >= start):
                first, t0 = ts, time.perf_counter()  # the pace counts from the first second published, not from generating
            if speed > 0 and first is not None:
                due = t0 + (ts - first).total_seconds() / speed
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            source = ts.tz_localize(timezone.utc).to_pydatetime() if ts.tzinfo is None else ts.to_pydatetime()
            now = datetime.now(timezone.utc)
            for channel, value in values:
                dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double), SourceTimestamp=source,
                                  ServerTimestamp=now)
                await self.server.write_attribute_value(self.nodes[channel], dv)
            self.published_s += 1
            if on_second is not None:
                on_second(ts)
            if speed <= 0 and self.published_s % 50 == 0:
                await asyncio.sleep(0)  # let the server's publish loop run
        return self.published_s


async def serve(cfg: DictConfig, speed: float, start: pd.Timestamp | None, end: pd.Timestamp | None) -> None:
    server = await LineServer(cfg).start()
    print(f"simulated line on {server.endpoint} ({len(server.nodes)} tags, namespace {cfg.live.namespace}), "
          f"speed {speed:g}x; {Settings.from_conf(cfg.live.security).describe()}", flush=True)
    try:
        n = await server.publish(speed, start, end)
        print(f"published {n} s of line; serving the last values until Ctrl-C", flush=True)
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    from pipeline.core.config import load_params
    from pipeline.core.settings import data_line, live, run

    parser = argparse.ArgumentParser(description="Publish the generated line as OPC UA variables (loopback).")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    parser.add_argument("--speed", type=float, default=None, help="x real time (default: live.server.speed; 0 = flat out)")
    parser.add_argument("--from", dest="start", default=None, help="first line timestamp (default: live.server.start)")
    parser.add_argument("--to", dest="end", default=None, help="stop publishing at this line timestamp")
    add_policy_flag(parser)
    args = parser.parse_args()
    # --security-policy is an override by another name: checked by the same schema
    cfg = load_params(args.params, {"live": live.Live, "data.line": data_line.DataLine, "seed": run.Seed},
                      policy_override(args))
    s = cfg.live.server
    start = args.start or s.get("start")
    try:
        asyncio.run(serve(cfg, float(args.speed if args.speed is not None else s.speed),
                          pd.Timestamp(start) if start else None, pd.Timestamp(args.end) if args.end else None))
    except KeyboardInterrupt:
        print("stopped", flush=True)


if __name__ == "__main__":
    from pipeline.core.cli import expected_errors, take_debug_flag

    sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    with expected_errors("line server"):
        main()
