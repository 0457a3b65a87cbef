"""Benchmark: request latency of the inventory prediction service, as started by its README
command (`python -m pipeline.inventory serve`, uvicorn, one process), from a client on the
same machine: one chemical at one lab (its whole log as JSON rows) and the whole lab log
(every series, as a CSV body), sequential requests.

    python benchmarks/inventory_service.py [--requests 300] [--model models:/<name>/<version>]

Serves the registered champion of the repository's MLflow store (run `make repro` first).
Writes reports/bench/inventory_service.json. Target (issue 15): p99 <= 50 ms on 2 cores, for a
chemical's log (the first payload; the whole lab log is there to show how time grows with rows).
Wall latency on a shared machine follows its load, so the file also holds the server's CPU
time per request (user + system, from the OS), which does not.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.process.monitor import latency_summary

from loopback import free_port


def health(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/health", timeout=5) as reply:
        return json.loads(reply.read())


def post(url: str, body: bytes, content_type: str) -> float:
    """Wall milliseconds of one request, checked to succeed."""
    t0 = time.perf_counter()
    req = urllib.request.Request(url, data=body, headers={"content-type": content_type})
    with urllib.request.urlopen(req, timeout=60) as reply:
        reply.read()
        assert reply.status == 200
    return (time.perf_counter() - t0) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per payload")
    parser.add_argument("--model", default=None, help="models:/... (default: serve.model, the champion)")
    args = parser.parse_args()
    root = repo_root()
    cfg = load_params()
    log = pd.read_csv(Path(cfg.paths.data) / "inventory" / "log.csv", dtype=str, keep_default_na=False)
    chem, loc = log["chemical"].iloc[0], log["location"].iloc[0]
    one = log[(log.chemical == chem) & (log.location == loc)]
    payloads = {f"one_series_json ({chem} at {loc}, {len(one)} rows)":
                ("/forecast", json.dumps({"rows": one.to_dict("records")}).encode(), "application/json"),
                f"whole_log_csv ({len(log)} rows)": ("/forecast/csv", log.to_csv(index=False).encode(), "text/csv")}
    port = free_port()
    cmd = [sys.executable, "-m", "pipeline.inventory", "serve", "--port", str(port)]
    cmd += ["--model", args.model] if args.model else []
    server = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                served = health(base)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"service did not start: {server.communicate()[0][-2000:]}")
                time.sleep(0.3)
        results = {}
        process = psutil.Process(server.pid)
        load_before = os.getloadavg()
        for name, (path, body, kind) in payloads.items():
            for _ in range(10):  # warm-up
                post(base + path, body, kind)
            cpu = process.cpu_times()
            ms = [post(base + path, body, kind) for _ in range(args.requests)]
            spent = process.cpu_times()
            cpu_ms = 1000.0 * ((spent.user - cpu.user) + (spent.system - cpu.system)) / len(ms)
            results[name] = {"requests": len(ms), "bytes": len(body), "latency_ms": latency_summary(np.array(ms)),
                             "server_cpu_ms_per_request": cpu_ms}
            print(f"{name}: p50 {results[name]['latency_ms']['p50']:.1f} ms, p99 {results[name]['latency_ms']['p99']:.1f} ms, "
                  f"server CPU {cpu_ms:.1f} ms per request")
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = {"model": {k: served[k] for k in ("model", "version", "uri")}, "payloads": results,
           "target_p99_ms": 50.0, "cores": os.cpu_count(),
           "load_average_1_5_15min": {"before": [round(x, 2) for x in load_before],
                                      "after": [round(x, 2) for x in load_after]},
           "command": f"python benchmarks/inventory_service.py --requests {args.requests}"}
    write_json(root / "reports" / "bench" / "inventory_service.json", out)
    print(f"wrote reports/bench/inventory_service.json (load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after)")


if __name__ == "__main__":
    main()
