"""Benchmark: ingest of the generated line data set at 1 Hz - generate, validate, write
partitioned Parquet, resample and align - with wall time and peak memory. Each run is its
own process, so each peak is its own: memory must not grow with hours or width.

    python benchmarks/process_ingest.py [--hours 24] [--full-hours 120] [--points 3e8 | --stations N]

Runs the default configuration for each of --hours, then the full-scale run: --full-hours
of the line with enough per-station press channels (data.line.press.stations) to make
--points values, the size of the study's workbook (~121 h, ~300 M points). Before each run
it waits (up to --wait s) for the 1-min load average to fall to --max-load: the machine is
shared. Writes reports/bench/process_ingest.json. Target (issue 6): the full 120 h in
<= 10 min and <= 8 GB on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.data.line import stage as line
from pipeline.data.line.generator import LineSimulator

TARGET = {"seconds_max": 600, "peak_rss_mb_max": 8192}


def config(hours: float, stations: int) -> DictConfig:
    return OmegaConf.merge(load_params(), {"data": {"line": {"source": "generated", "hours": hours,
                                                             "press": {"stations": stations}}}})


def stations_for(hours: float, points: float) -> int:
    """Stations whose channels bring a run of `hours` to about `points` values."""
    cfg = config(1.0, 0).data.line
    seconds = int(cfg.chunk_seconds)
    probe = next(LineSimulator(OmegaConf.merge(cfg, {"hours": seconds / 3600.0}), 0).chunks(seconds))
    base_per_s = sum(df.shape[0] * (df.shape[1] - 1) for df in probe.values()) / seconds
    per_station_per_s = len(cfg.press.quantities) / float(cfg.period_s)
    return max(0, round((points / (hours * 3600.0) - base_per_s) / per_station_per_s))


def single(hours: float, stations: int) -> dict:
    cfg = config(hours, stations)
    scratch = Path(tempfile.mkdtemp(prefix="line_bench_"))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    metrics = line.prepare(cfg, scratch / "data" / "line", scratch / "reports" / "data")
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    size_mb = sum(p.stat().st_size for p in (scratch / "data" / "line").rglob("*") if p.is_file()) / 2**20
    result = {"hours": metrics["hours"], "stations": stations, "rows": metrics["rows"], "points": metrics["points"],
              "aligned_rows": metrics["aligned_rows"], "aligned_channels": aligned_channels(scratch),
              "seconds": seconds, "peak_rss_mb": peak_mb, "parquet_mb": size_mb, "points_per_s": metrics["points"] / seconds,
              "chunk_seconds": int(cfg.data.line.chunk_seconds), "cpu_count": os.cpu_count(),
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "station_channels": metrics.get("station_channels", {}), "target": TARGET,
              "met": {"time": seconds <= TARGET["seconds_max"], "memory": peak_mb <= TARGET["peak_rss_mb_max"]}}
    shutil.rmtree(scratch, ignore_errors=True)
    return result


def aligned_channels(scratch: Path) -> int:
    return len(json.loads((scratch / "data" / "line" / "layout.json").read_text())["channels"])


def wait_for_quiet(max_load: float, wait_s: float) -> float:
    """Seconds waited for the 1-min load average to reach max_load (at most wait_s)."""
    t0 = time.monotonic()
    while os.getloadavg()[0] > max_load and time.monotonic() - t0 < wait_s:
        time.sleep(min(30.0, wait_s))
    return time.monotonic() - t0


def run_child(hours: float, stations: int, label: str, args: argparse.Namespace) -> dict:
    waited = wait_for_quiet(args.max_load, args.wait)
    cmd = [sys.executable, __file__, "--single", str(hours), "--stations", str(stations)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = {"run": label, "waited_for_load_s": waited, **json.loads(out.stdout.strip().splitlines()[-1])}
    print(f"ingest {label} {r['hours']:.1f} h, {stations} stations: {r['points']:,} points in {r['seconds']:.1f} s "
          f"({r['points_per_s'] / 1e6:.2f} M/s), peak RSS {r['peak_rss_mb']:.0f} MB, load {r['loadavg_before'][0]:.2f}")
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="*", default=[24.0], help="default-configuration runs")
    parser.add_argument("--full-hours", type=float, default=120.0, help="full-scale run length (0: none)")
    parser.add_argument("--points", type=float, default=3e8, help="values the full-scale run aims at")
    parser.add_argument("--stations", type=int, default=None, help="press stations (full-scale run; overrides --points)")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait before a run until the 1-min load is this low")
    parser.add_argument("--wait", type=float, default=300.0, help="at most this long (s)")
    parser.add_argument("--single", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single is not None:
        print(json.dumps(single(args.single, args.stations or 0)))
        return
    runs = [run_child(hours, 0, "default", args) for hours in args.hours]
    if args.full_hours > 0:
        stations = args.stations if args.stations is not None else stations_for(args.full_hours, args.points)
        runs.append(run_child(args.full_hours, stations, "full-scale", args))
    path = write_json(repo_root() / "reports" / "bench" / "process_ingest.json", {"runs": runs})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
