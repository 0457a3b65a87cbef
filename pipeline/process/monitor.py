"""Real-time replay: stream a recorded line series through the ONNX forecaster with
onnxruntime, one step at a time, and write early warnings as they happen.

    python -m pipeline.process.monitor                       # the test period of data/line
    python -m pipeline.process.monitor --series other.parquet --from "2024-03-05 02:00" --steps 500
    python -m pipeline.process.monitor --speed 1              # paced like the line (1x real time)

Everything the replay needs (channels, normalisation, golden profile and limits per operating
state, the state rule, warning rule) is in the ONNX file's metadata, so it runs beside the line
without the training code's data. Unplanned stops the state rule sees are printed and listed
in monitor.json, apart from the warnings.
Writes <out>/monitor_warnings.csv (appended and flushed per warning) and <out>/monitor.json
(per-step latency of window update + onnxruntime + warning rule).
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pipeline.contracts.line import ALIGNED_FILE, TIMESTAMP
from pipeline.contracts.process_model import ONNX_FILE, REQUIRED_METADATA
from pipeline.core import onnx_io
from pipeline.core.config import load_params
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.validation import DataValidationError
from pipeline.process.control import WARNING_COLUMNS, EarlyWarning, Golden, WarningSettings

FIELDS = [*WARNING_COLUMNS, "latency_ms"]


class Window:
    """The last `lookback` rows, contiguous, without shifting memory each step (each row is
    written twice into a buffer of 2*lookback, so buffer[i:i+lookback] is always the window)."""

    def __init__(self, lookback: int, channels: int):
        self.L = lookback
        self.buf = np.zeros((2 * lookback, channels), dtype=np.float32)
        self.n = 0

    def push(self, row: np.ndarray) -> np.ndarray | None:
        i = self.n % self.L
        self.buf[i] = row
        self.buf[i + self.L] = row
        self.n += 1
        if self.n < self.L:
            return None
        start = self.n % self.L
        return self.buf[start : start + self.L]


def load_series(path: Path, channels: list[str]) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    missing = [c for c in [TIMESTAMP, *channels] if c not in frame.columns]
    if missing:
        raise DataValidationError(path, f"series lacks the model's channel(s) {missing}", column=missing[0])
    return frame[[TIMESTAMP, *channels]]


def latency_summary(ms) -> dict:
    """Mean, p50, p95, p99 and max of per-step latencies (None each when there are none)."""
    a = np.asarray(ms, dtype=float)
    if not len(a):
        return dict.fromkeys(("mean", "p50", "p95", "p99", "max"))
    return {"mean": float(a.mean()), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def replay(onnx_path: Path, series: Path, out_dir: Path, start: str | None = None, steps: int | None = None,
           speed: float = 0.0) -> dict:
    meta = onnx_io.read_metadata(onnx_path, REQUIRED_METADATA)
    sess = onnx_io.session(onnx_path)
    name = sess.get_inputs()[0].name
    channels, targets = meta["channels"], meta["targets"]
    settings = WarningSettings(**meta["warnings"])
    k = list(meta["horizons"]).index(settings.horizon)
    frame = load_series(series, channels)
    start = start or meta.get("replay_from")
    if start is not None:
        first = max(0, int(frame[TIMESTAMP].searchsorted(pd.Timestamp(start))) - int(meta["lookback"]) + 1)
        frame = frame.iloc[first:]
    if steps is not None:
        frame = frame.iloc[: int(steps) + int(meta["lookback"]) - 1]
    values = frame[channels].to_numpy(np.float32)
    times = frame[TIMESTAMP].to_numpy()
    rule = EarlyWarning(Golden.from_dict(meta["golden"]), targets, meta.get("actuators", {}), settings)
    window = Window(int(meta["lookback"]), len(channels))
    latencies, skipped, n_warn = [], 0, 0
    out_dir = ensure_dir(out_dir)
    period = float(meta["period_s"])
    with open(out_dir / "monitor_warnings.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        fh.flush()
        for i in tqdm(range(len(values)), desc="monitor", unit="step", mininterval=2):
            t0 = time.perf_counter()
            row = values[i]
            win = window.push(row)
            if win is None:
                continue
            if np.isnan(win).any():  # a gap in the recording: no forecast until the window is whole
                skipped += 1
                continue
            forecast = sess.run(None, {name: win[None]})[0][0, k]
            seen = len(rule.state_events)
            new = rule.update(times[i], forecast, row)
            for stop in rule.state_events[seen:]:
                print(f"[{stop['time']}] UNPLANNED STOP after {stop['ran_s'] / 60:.0f} min of production", flush=True)
            latency = (time.perf_counter() - t0) * 1000.0
            latencies.append(latency)
            for warning in new:
                writer.writerow({**warning, "latency_ms": latency})
                fh.flush()
                n_warn += 1
                print(f"[{warning['time']}] WARNING {warning['recommendation']}", flush=True)
            if speed > 0:
                time.sleep(max(0.0, period / speed - (time.perf_counter() - t0)))
    lat = np.asarray(latencies)
    metrics = {"steps": int(len(lat)), "skipped_incomplete_windows": skipped, "warnings": n_warn,
               "unplanned_stops": [str(e["time"]) for e in rule.state_events],
               "latency_ms": latency_summary(lat),
               "series": str(series), "model": str(onnx_path)}
    write_json(out_dir / "monitor.json", metrics)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay a recorded line series through the ONNX forecaster.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    parser.add_argument("--onnx", default=None, help=f"model (default: <paths.models>/{ONNX_FILE})")
    parser.add_argument("--series", default=None, help=f"aligned Parquet (default: <paths.data>/line/{ALIGNED_FILE})")
    parser.add_argument("--from", dest="start", default=None, help="first timestamp (default: the model's test period)")
    parser.add_argument("--steps", type=int, default=None, help="number of steps to replay (default: all)")
    parser.add_argument("--speed", type=float, default=0.0, help="pace: 1 = real time, 0 = as fast as possible")
    parser.add_argument("--out", default=None, help="output folder (default: <paths.reports>/process)")
    args = parser.parse_args()
    cfg = load_params(args.params)
    onnx_path = Path(args.onnx or Path(cfg.paths.models) / ONNX_FILE)
    series = Path(args.series or Path(cfg.paths.data) / "line" / ALIGNED_FILE)
    out = Path(args.out or Path(cfg.paths.reports) / "process")
    m = replay(onnx_path, series, out, args.start, args.steps, args.speed)
    lat = m["latency_ms"]
    print(f"monitor: {m['steps']} steps, {m['warnings']} warnings, latency p50 {lat['p50']:.3f} ms, "
          f"p99 {lat['p99']:.3f} ms (window + onnxruntime + rule)")


if __name__ == "__main__":
    main()
