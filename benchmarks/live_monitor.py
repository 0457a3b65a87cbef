"""Benchmark: value-to-warning latency of the live monitor over OPC UA. The simulated line
server runs as its own process (`python -m pipeline.data.line_opcua`, the README command);
the monitor subscribes on loopback and, for every grid step it closes, measures from the
server's timestamp of the sample that completed the step to the warning rule's decision
(value_to_decision: every step; value_to_warning: the steps that raised a warning, which the
monitor also publishes on its own OPC UA variables and writes to its CSV first).

    python benchmarks/live_monitor.py [--speed 10] [--seconds 3600] [--from "2024-03-05 18:20:00"]

By default the stretch starts 10 minutes before the first warning of the forecaster's test
period (reports/process/warnings.csv; run `make repro` first), so that it holds warnings.
Writes reports/bench/live_monitor.json. Target (issue 15): p99 <= 1 s on 2 cores.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.process_model import ONNX_FILE, ProcessModelMetadata
from pipeline.contracts.process_model import read as read_metadata
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.process.live import LiveMonitor

from loopback import free_port


QUIET_S = 5.0  # once the server has published everything, no new step this long (wall) ends the run


async def measure(cfg, onnx_path: Path, out: Path, published: threading.Event, timeout_s: float) -> tuple[dict, float]:
    """Run the monitor until the server has published the whole stretch and no step has closed
    for a few seconds; (metrics, wall seconds from the monitor's first sample to its last step)."""
    monitor = LiveMonitor(cfg, onnx_path, out)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    loop = asyncio.get_running_loop()
    deadline, first, last_step, steps = loop.time() + timeout_s, None, loop.time(), 0
    while not task.done():
        now = loop.time()
        if first is None and monitor.samples:
            first = now
        if monitor.steps != steps:
            steps, last_step = monitor.steps, now
        if published.is_set() and now - last_step > QUIET_S:
            break
        if now > deadline:
            stop.set()
            await asyncio.wait_for(task, 60)
            raise RuntimeError(f"the stretch did not go through in {timeout_s:.0f} s ({monitor.steps} steps)")
        await asyncio.sleep(0.1)
    stop.set()
    return await asyncio.wait_for(task, 60), last_step - (first or last_step)


def watch_server(server: subprocess.Popen, published: threading.Event) -> None:
    """Set `published` once the server says it has published the stretch (or has exited)."""
    for line in server.stdout:
        if line.startswith("published"):
            break
    published.set()


def default_start(cfg, meta: ProcessModelMetadata) -> pd.Timestamp:
    """10 minutes before the first warning of the test period, else the test period's first window."""
    start = pd.Timestamp(meta.replay_from) - pd.Timedelta(seconds=meta.period_s * meta.lookback)
    warnings = Path(cfg.paths.reports) / "process" / "warnings.csv"
    if warnings.exists():
        times = pd.to_datetime(pd.read_csv(warnings, usecols=["time"])["time"])
        if len(times):
            start = max(start, times.min() - pd.Timedelta(minutes=10))
    return start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=10.0, help="line seconds per wall second (1 = real time)")
    parser.add_argument("--seconds", type=float, default=3600.0, help="line seconds to publish")
    parser.add_argument("--from", dest="start", default=None, help="first line timestamp (default: see above)")
    parser.add_argument("--model", default=None, help="ONNX file (default: <paths.models>/process_lstm.onnx)")
    args = parser.parse_args()
    root = repo_root()
    cfg = OmegaConf.create(OmegaConf.to_container(load_params(), resolve=True))
    cfg.live.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-line/"
    cfg.live.publish.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-monitor/"
    onnx_path = Path(args.model or Path(cfg.paths.models) / ONNX_FILE)
    meta = read_metadata(onnx_path)
    start = pd.Timestamp(args.start) if args.start else default_start(cfg, meta)
    end = start + pd.Timedelta(seconds=args.seconds)
    steps = int(args.seconds / meta.period_s)  # grid steps in the stretch
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="live_bench_") as tmp:
        params = Path(tmp) / "params.yaml"
        OmegaConf.save(cfg, params)
        server = subprocess.Popen([sys.executable, "-m", "pipeline.data.line_opcua", "--params", str(params),
                                   "--speed", str(args.speed), "--from", str(start), "--to", str(end)],
                                  cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        published = threading.Event()
        try:
            while True:  # the server prints its endpoint once it listens
                line = server.stdout.readline()
                if not line:
                    raise RuntimeError("line server exited before listening")
                if line.startswith("simulated line on"):
                    break
            threading.Thread(target=watch_server, args=(server, published), daemon=True).start()
            m, wall = asyncio.run(measure(cfg, onnx_path, Path(tmp) / "live", published,
                                          timeout_s=600.0 + 3 * args.seconds / args.speed))
        finally:
            server.terminate()
            server.wait(timeout=30)
    load_after = os.getloadavg()
    out = {"speed": args.speed, "from": str(start), "line_seconds": args.seconds, "wall_seconds": wall,
           "steps_in_stretch": steps, "steps": m["steps"], "forecasts": m["forecasts"], "warnings": m["warnings"], "samples": m["samples"],
           "value_to_decision_ms": m["value_to_decision_ms"], "value_to_warning_ms": m["value_to_warning_ms"],
           "target_p99_ms": 1000.0, "cores": os.cpu_count(),
           "load_average_1_5_15min": {"before": [round(x, 2) for x in load_before],
                                      "after": [round(x, 2) for x in load_after]},
           "command": f"python benchmarks/live_monitor.py --speed {args.speed:g} --seconds {args.seconds:g}"}
    write_json(root / "reports" / "bench" / "live_monitor.json", out)
    d, w = out["value_to_decision_ms"], out["value_to_warning_ms"]
    warn_p99 = "n/a" if w["p99"] is None else f"{w['p99']:.1f} ms"
    print(f"{m['steps']} steps, {m['warnings']} warnings at {args.speed:g}x: value-to-decision p50 {d['p50']:.1f} ms "
          f"p99 {d['p99']:.1f} ms; value-to-warning p99 {warn_p99} (load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after)")


if __name__ == "__main__":
    main()
