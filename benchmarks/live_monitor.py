"""Benchmark: value-to-warning latency of the live monitor over OPC UA. The simulated line
server runs as its own process (`python -m pipeline.data.line_opcua`, the README command);
the monitor subscribes on loopback and, for every grid step it closes, measures from the
server's timestamp of the sample that completed the step to the warning rule's decision
(published warning, or none). Steps that raise a warning are reported on their own too.

    python benchmarks/live_monitor.py [--speed 10] [--seconds 1200] [--model models/process_lstm.onnx]

Runs over the model's test period of data/line (run `make repro` first).
Writes reports/bench/live_monitor.json. Target (issue 15): p99 <= 1 s on 2 cores.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.process_model import REQUIRED_METADATA
from pipeline.core import onnx_io
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.process.live import LiveMonitor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def measure(cfg, onnx_path: Path, out: Path, duration_s: float) -> dict:
    monitor = LiveMonitor(cfg, onnx_path, out)
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(duration_s)
    stop.set()
    return await asyncio.wait_for(task, 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=10.0, help="line seconds per wall second (1 = real time)")
    parser.add_argument("--seconds", type=float, default=1200.0, help="line seconds to publish")
    parser.add_argument("--model", default=None, help="ONNX file (default: <paths.models>/process_lstm.onnx)")
    args = parser.parse_args()
    root = repo_root()
    cfg = OmegaConf.create(OmegaConf.to_container(load_params(), resolve=True))
    cfg.live.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-line/"
    cfg.live.publish.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-monitor/"
    onnx_path = Path(args.model or Path(cfg.paths.models) / "process_lstm.onnx")
    meta = onnx_io.read_metadata(onnx_path, REQUIRED_METADATA)
    start = pd.Timestamp(meta["replay_from"]) - pd.Timedelta(seconds=float(meta["period_s"]) * int(meta["lookback"]))
    end = start + pd.Timedelta(seconds=args.seconds)
    params = root / "reports" / "bench" / "live_monitor_params.yaml"
    params.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, params)
    server = subprocess.Popen([sys.executable, "-m", "pipeline.data.line_opcua", "--params", str(params),
                               "--speed", str(args.speed), "--from", str(start), "--to", str(end)],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while True:  # the server prints its endpoint once it listens (after generating the run up to `start`)
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("line server exited before listening")
            if line.startswith("simulated line on"):
                break
        t0 = time.time()
        m = asyncio.run(measure(cfg, onnx_path, root / "reports" / "bench" / "live_monitor",
                                args.seconds / args.speed + 5.0))
    finally:
        server.terminate()
        server.wait(timeout=30)
        params.unlink(missing_ok=True)
    out = {"speed": args.speed, "line_seconds": args.seconds, "wall_seconds": time.time() - t0,
           "steps": m["steps"], "forecasts": m["forecasts"], "warnings": m["warnings"], "samples": m["samples"],
           "value_to_decision_ms": m["value_to_decision_ms"], "value_to_warning_ms": m["value_to_warning_ms"],
           "target_p99_ms": 1000.0, "cores": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
           "command": f"python benchmarks/live_monitor.py --speed {args.speed:g} --seconds {args.seconds:g}"}
    write_json(root / "reports" / "bench" / "live_monitor.json", out)
    d, w = out["value_to_decision_ms"], out["value_to_warning_ms"]
    print(f"{m['steps']} steps, {m['warnings']} warnings at {args.speed:g}x: value-to-decision p50 {d['p50']:.1f} ms "
          f"p99 {d['p99']:.1f} ms; value-to-warning p99 {w['p99'] if w['p99'] is None else round(w['p99'], 1)} ms "
          f"(load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
