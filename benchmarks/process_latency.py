"""Benchmark: per-step inference latency of the exported process forecaster (onnxruntime,
batch 1, one thread), against torch eager on the same weights, and the full replay step
(window update + onnxruntime + warning rule) of `python -m pipeline.process.monitor`.

    python benchmarks/process_latency.py [--steps 3000]

Uses models/process_lstm.onnx and .pt and data/line (run the two stages first).
Writes reports/bench/process_latency.json. Target (issue 6): <= 5 ms per step.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.contracts.line import ALIGNED_FILE
from pipeline.contracts.process_model import ONNX_FILE, PT_FILE
from pipeline.contracts.process_model import read as read_metadata
from pipeline.core import onnx_io
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.process.model import load_deployed
from pipeline.process.monitor import latency_summary, replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    cfg = load_params()
    torch.set_num_threads(1)
    onnx_path = Path(cfg.paths.models) / ONNX_FILE
    meta = read_metadata(onnx_path)
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(args.steps, 1, meta.lookback, len(meta.channels))).astype(np.float32)
    sess = onnx_io.session(onnx_path)
    name = sess.get_inputs()[0].name
    ort_ms = []
    for w in windows:
        t0 = time.perf_counter()
        sess.run(None, {name: w})
        ort_ms.append((time.perf_counter() - t0) * 1000)
    model = load_deployed(cfg.model.process, meta, torch.load(Path(cfg.paths.models) / PT_FILE, weights_only=True))
    torch_ms = []
    with torch.no_grad():
        for w in windows:
            x = torch.from_numpy(w)
            t0 = time.perf_counter()
            model(x)
            torch_ms.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        m = replay(onnx_path, Path(cfg.paths.data) / "line" / ALIGNED_FILE, Path(tmp), steps=args.steps)
    result = {"steps": args.steps, "onnxruntime_ms": latency_summary(ort_ms), "torch_eager_ms": latency_summary(torch_ms),
              "replay_step_ms": m["latency_ms"], "replay_steps": m["steps"], "target_ms": 5.0,
              "met": {k: m["latency_ms"][k] <= 5.0 for k in ("mean", "p50", "p95", "p99")}, "cpu_count": os.cpu_count(), "loadavg_after": os.getloadavg()}
    path = write_json(repo_root() / "reports" / "bench" / "process_latency.json", result)
    print(f"onnxruntime p50 {result['onnxruntime_ms']['p50']:.3f} ms p99 {result['onnxruntime_ms']['p99']:.3f} ms; "
          f"replay step p50 {m['latency_ms']['p50']:.3f} ms p99 {m['latency_ms']['p99']:.3f} ms -> {path}")


if __name__ == "__main__":
    main()
