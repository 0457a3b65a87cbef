"""Run the simulated line server and the live monitor together in one event loop, on free
loopback ports, over a stretch of the line; and the offline replay of the same stretch."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.process_model import REQUIRED_METADATA
from pipeline.core import onnx_io
from pipeline.data.line_opcua import LineServer
from pipeline.process.live import LiveMonitor
from pipeline.process.monitor import replay


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_ports(cfg):
    """cfg with the line server and the monitor's publisher on free loopback ports."""
    c = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    c.live.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-line/"
    c.live.publish.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-monitor/"
    return c


def stretch(onnx_path: Path, series: Path, first_warnings: int = 2, after_s: float = 120.0):
    """(start, end, steps) of the line from the model's replay start through its first warnings
    offline (start = replay start minus the window, so both see the same first forecast)."""
    meta = onnx_io.read_metadata(onnx_path, REQUIRED_METADATA)
    period, lookback = float(meta["period_s"]), int(meta["lookback"])
    frame = pd.read_parquet(series, columns=["TimeStamp"])
    t0 = pd.Timestamp(meta["replay_from"])
    first = max(0, int(frame.TimeStamp.searchsorted(t0)) - lookback + 1)
    start = frame.TimeStamp.iloc[first]
    return start, period, lookback, frame.TimeStamp.iloc[-1] + pd.Timedelta(seconds=period)


async def run_live(cfg, onnx_path: Path, out: Path, start, end, speed: float, restart_at=None):
    """Server publishes [start, end) at `speed`; the monitor runs until the server has published
    everything and the last step is processed. `restart_at`: a line time at which the server
    is stopped and a new one started (same endpoint) that goes on from there."""
    cfg = with_ports(cfg)
    server = await LineServer(cfg).start()
    monitor = LiveMonitor(cfg, onnx_path, out)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.wait_for(monitor.subscribed.wait(), 60)  # subscribed before the first value
    if restart_at is None:
        await server.publish(speed, start, end)
    else:
        await server.publish(speed, start, restart_at)
        await server.stop()
        await asyncio.sleep(3.0)  # the line's server is down for a while
        server = await LineServer(cfg).start()
        for _ in range(300):  # the client has reconnected (samples flow again) before the line goes on
            if monitor.connections and not monitor.silent_flagged:
                break
            await asyncio.sleep(0.1)
        await server.publish(speed, restart_at, end)
    expected = int((end - start).total_seconds() / monitor.model.period_s)
    for _ in range(300):  # the last publish reaches the monitor (at most 30 s on a busy machine)
        if monitor.steps >= expected:
            break
        await asyncio.sleep(0.1)
    stop.set()
    metrics = await asyncio.wait_for(task, 30)
    await server.stop()
    return metrics, monitor


def offline(onnx_path: Path, series: Path, out: Path, start, steps: int) -> pd.DataFrame:
    replay(onnx_path, series, out, start=str(start), steps=steps)
    return pd.read_csv(out / "monitor_warnings.csv")
