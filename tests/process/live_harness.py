"""Run the simulated line server and the live monitor together in one event loop, on free
loopback ports, over a stretch of the line; and the offline replay of the same stretch."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.process_model import read as read_metadata
from pipeline.data.line_opcua import LineServer
from pipeline.process.live import LiveMonitor
from pipeline.process.monitor import replay

from tests.opcua_helpers import monitored_items, secured, session_pki
from tests.servers import free_port


def with_ports(cfg):
    """cfg with the line server and the monitor's publisher on free loopback ports, secured as by
    default (Basic256Sha256; the monitor signs, encrypts and logs in) with a throwaway PKI."""
    c = secured(cfg, session_pki()["pki"])
    c.live.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-line/"
    c.live.publish.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-monitor/"
    return c


def stretch(onnx_path: Path, series: Path, first_warnings: int = 2, after_s: float = 120.0):
    """(start, end, steps) of the line from the model's replay start through its first warnings
    offline (start = replay start minus the window, so both see the same first forecast)."""
    meta = read_metadata(onnx_path)
    period, lookback = meta.period_s, meta.lookback
    frame = pd.read_parquet(series, columns=["TimeStamp"])
    t0 = pd.Timestamp(meta.replay_from)
    first = max(0, int(frame.TimeStamp.searchsorted(t0)) - lookback + 1)
    start = frame.TimeStamp.iloc[first]
    return start, period, lookback, frame.TimeStamp.iloc[-1] + pd.Timedelta(seconds=period)


async def wait_until(condition, what: str, timeout_s: float = 180.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout_s` (generous: a busy
    2-core machine runs the server, the client and the test in one event loop)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        await asyncio.sleep(0.1)


async def run_live(cfg, onnx_path: Path, out: Path, start, end, speed: float, restart_at=None,
                   monitor_nodes: dict[str, str] | None = None):
    """Server publishes [start, end) at `speed`; the monitor runs until every step of it is
    processed. `restart_at`: once every step before this line time is processed, the server is
    stopped; when the monitor has seen the connection drop a new server (same endpoint) starts,
    and once the monitor has reconnected it goes on from there. `monitor_nodes`: node ids the
    monitor looks for (live.nodes) where the server has others."""
    cfg = with_ports(cfg)
    # grace_s is line time: at `speed` x the server's 100 ms publishing batches span 3 line seconds
    # at 30x, and a busy machine can deliver one channel's batch a publish later; a second of wall
    # time keeps a late tag from being closed out of its step (CI once lost 40 of 180 forecasts)
    cfg.live.grace_s = max(float(cfg.live.grace_s), float(speed))
    server = await LineServer(cfg).start()
    watcher = OmegaConf.create(OmegaConf.to_container(cfg))
    watcher.live.nodes = monitor_nodes or {}
    monitor = LiveMonitor(watcher, onnx_path, out)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await wait_until(lambda: monitor.subscribed.is_set() or task.done(), "the monitor to subscribe")
    period = monitor.model.period_s

    def steps_until(t) -> int:
        return int((t - start).total_seconds() / period)

    try:
        if restart_at is None:
            await server.publish(speed, start, end)
        else:
            await server.publish(speed, start, restart_at)
            await wait_until(lambda: monitor.steps >= steps_until(restart_at), "the steps before the restart")
            await server.stop()
            await wait_until(lambda: monitor.connection_losses >= 1, "the monitor to see the server go")
            server = await LineServer(cfg).start()
            await wait_until(lambda: monitor.reconnects >= 1, "the monitor to reconnect")
            # asyncua reports CONNECTED before it re-creates the subscription: samples published in
            # between are lost and the window refills (CI once forecast 46 of 85 windows after it)
            items = len(monitor.model.channels)
            await wait_until(lambda: monitored_items(server.server) >= items, "the subscription to be re-created")
            await server.publish(speed, restart_at, end)
        await wait_until(lambda: monitor.steps >= steps_until(end) or task.done(), "the last step")
    finally:
        stop.set()
        metrics = await asyncio.wait_for(task, 60)
        await server.stop()
    return metrics, monitor


def offline(onnx_path: Path, series: Path, out: Path, start, steps: int) -> pd.DataFrame:
    replay(onnx_path, series, out, start=str(start), steps=steps)
    return pd.read_csv(out / "monitor_warnings.csv")
