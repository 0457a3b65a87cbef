"""Benchmark: ingest of the generated line data set at 1 Hz - generate, validate, write
partitioned Parquet, resample and align - with wall time and peak memory, for several run
lengths (each in its own process, so each peak is its own): memory must not grow with hours.

    python benchmarks/process_ingest.py [--hours 24 120]

Writes reports/bench/process_ingest.json. Target (issue 6): the full 120 h in <= 10 min and
<= 8 GB on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import resource
import shutil
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.data import line


def single(hours: float) -> dict:
    cfg = OmegaConf.merge(load_params(), {"data": {"line": {"source": "generated", "hours": hours}}})
    scratch = Path(tempfile.mkdtemp(prefix="line_bench_"))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    metrics = line.prepare(cfg, scratch / "data" / "line", scratch / "reports" / "data")
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    size_mb = sum(p.stat().st_size for p in (scratch / "data" / "line").rglob("*") if p.is_file()) / 2**20
    result = {"hours": metrics["hours"], "rows": metrics["rows"], "points": metrics["points"],
              "aligned_rows": metrics["aligned_rows"], "seconds": seconds, "peak_rss_mb": peak_mb,
              "parquet_mb": size_mb, "points_per_s": metrics["points"] / seconds,
              "chunk_seconds": int(cfg.data.line.chunk_seconds), "cpu_count": os.cpu_count(),
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "target": {"seconds_max": 600, "peak_rss_mb_max": 8192},
              "met": {"time": seconds <= 600, "memory": peak_mb <= 8192}}
    shutil.rmtree(scratch, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[24.0, 120.0])
    parser.add_argument("--single", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single is not None:
        print(json.dumps(single(args.single)))
        return
    runs = []
    for hours in args.hours:
        out = subprocess.run([sys.executable, __file__, "--single", str(hours)], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = runs[-1]
        print(f"ingest {r['hours']:.1f} h: {r['points']:,} points in {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    path = write_json(repo_root() / "reports" / "bench" / "process_ingest.json", {"runs": runs})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
