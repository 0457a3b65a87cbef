"""Real-time replay: stream a recorded line series through the ONNX forecaster with
onnxruntime, one step at a time, and write early warnings as they happen.

    python -m pipeline.process.monitor                       # the test period of data/line
    python -m pipeline.process.monitor --series other.parquet --from "2024-03-05 02:00" --steps 500
    python -m pipeline.process.monitor --speed 1              # paced like the line (1x real time)

Everything the replay needs (channels, normalisation, golden profile and limits per operating
state, the state rule, warning rule) is in the ONNX file's metadata, so it runs beside the line
without the training code's data. Unplanned stops the state rule sees are printed and listed
in monitor.json, apart from the warnings. A series that names its batches (the metadata's
`segments` columns) is replayed batch by batch: the window and the rule start afresh at each
batch, as a line starts a new batch; by default only the model's test batches are replayed.
Writes <out>/monitor_warnings.csv (appended and flushed per warning) and <out>/monitor.json
(per-step latency of window update + onnxruntime + warning rule). train_process runs this
replay on its own test period and writes both files beside its other outputs, so they always
belong to the data and model of the last run; this command writes to reports/replay/ unless
told otherwise (--out).
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pipeline.contracts.line import ALIGNED_FILE, TIMESTAMP, batch_name
from pipeline.contracts.process_model import INPUT, ONNX_FILE, ProcessModelMetadata
from pipeline.contracts.process_model import read as read_metadata
from pipeline.core import onnx_io
from pipeline.core.cli import run_stage
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


class StepMonitor:
    """The model's rule and window: one completed grid step in, warnings out (the replay and the
    live monitor, pipeline/process/live.py, run the same object)."""

    def __init__(self, onnx_path: Path, meta: ProcessModelMetadata | None = None, session=None):
        self.meta = meta or read_metadata(onnx_path)
        self.sess = session or onnx_io.session(onnx_path)
        self.channels, self.targets = list(self.meta.channels), list(self.meta.targets)
        self.settings = WarningSettings(**self.meta.warnings)
        self.k = self.meta.warning_horizon_index
        self.period_s = self.meta.period_s
        self.restart()

    def restart(self) -> None:
        """A fresh window and rule (a new batch)."""
        self.window = Window(self.meta.lookback, len(self.channels))
        self.rule = EarlyWarning(Golden.from_dict(self.meta.golden), self.targets, self.meta.actuators, self.settings)

    def step(self, time_, row: np.ndarray) -> tuple[bool, list[dict]]:
        """(forecast made, warnings): no forecast while the window is short or holds a missing value."""
        win = self.window.push(row)
        if win is None or np.isnan(win).any():
            return False, []
        forecast = self.sess.run(None, {INPUT: win[None]})[0][0, self.k]
        return True, self.rule.update(time_, forecast, row)


def load_series(path: Path, channels: list[str], segments: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    missing = [c for c in [TIMESTAMP, *channels] if c not in frame.columns]
    if missing:
        raise DataValidationError(path, f"series lacks the model's channel(s) {missing}", column=missing[0])
    kept = [c for c in segments if c in frame.columns]
    return frame[[TIMESTAMP, *kept, *channels]]


def batch_labels(frame: pd.DataFrame, segments: tuple[str, ...]) -> np.ndarray | None:
    """Each row's batch name, None when the series does not name batches."""
    if not segments or not all(c in frame.columns for c in segments):
        return None
    seg = frame[list(segments)].astype(str)
    return np.array([batch_name(segments, row) for row in seg.itertuples(index=False)], dtype=object)


def latency_summary(ms) -> dict:
    """Mean, p50, p95, p99 and max of per-step latencies (None each when there are none)."""
    a = np.asarray(ms, dtype=float)
    if not len(a):
        return dict.fromkeys(("mean", "p50", "p95", "p99", "max"))
    return {"mean": float(a.mean()), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def replay(onnx_path: Path, series: Path, out_dir: Path, start: str | None = None, steps: int | None = None,
           speed: float = 0.0, batches: list[str] | None = None) -> dict:
    """Replay `series` (by default the model's test batches, or its test period from
    `replay_from`) through the model one step at a time; see the module's docstring."""
    monitor = StepMonitor(onnx_path)
    meta = monitor.meta
    frame = load_series(series, monitor.channels, meta.segments)
    labels = batch_labels(frame, meta.segments)
    if batches and labels is None:
        raise DataValidationError(series, f"the series names no batches (the model's batch columns: "
                                          f"{list(meta.segments) or 'none'}); --batch {batches[0]!r} cannot be found")
    if labels is not None and (batches or (start is None and meta.test_batches)):
        keep = np.isin(labels, list(batches or meta.test_batches))
        if not keep.any():
            raise DataValidationError(series, f"no row of batch(es) {list(batches or meta.test_batches)}")
        frame, labels = frame[keep], labels[keep]
    start = start if start is not None or labels is not None else meta.replay_from
    if start is not None:
        first = max(0, int(frame[TIMESTAMP].searchsorted(pd.Timestamp(start))) - meta.lookback + 1)
        frame, labels = frame.iloc[first:], labels[first:] if labels is not None else None
    if steps is not None:
        n = int(steps) + meta.lookback - 1
        frame, labels = frame.iloc[:n], labels[:n] if labels is not None else None
    values = frame[monitor.channels].to_numpy(np.float32)
    times = frame[TIMESTAMP].to_numpy()
    latencies, skipped, n_warn, stops = [], 0, 0, []
    out_dir = ensure_dir(out_dir)
    with open(out_dir / "monitor_warnings.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        fh.flush()
        for i in tqdm(range(len(values)), desc="monitor", unit="step", mininterval=2):
            t0 = time.perf_counter()
            if labels is not None and i > 0 and labels[i] != labels[i - 1]:
                stops += monitor.rule.state_events
                monitor.restart()  # a new batch: no window reaches into the one before
            row = values[i]
            seen = len(monitor.rule.state_events)
            made, new = monitor.step(times[i], row)
            if not made:
                skipped += monitor.window.n >= meta.lookback  # a gap in the recording, not a filling window
                continue
            for stop in monitor.rule.state_events[seen:]:
                print(f"[{stop['time']}] UNPLANNED STOP after {stop['ran_s'] / 60:.0f} min of production", flush=True)
            latency = (time.perf_counter() - t0) * 1000.0
            latencies.append(latency)
            for warning in new:
                writer.writerow({**warning, "latency_ms": latency})
                fh.flush()
                n_warn += 1
                print(f"[{warning['time']}] WARNING {warning['recommendation']}", flush=True)
            if speed > 0:
                time.sleep(max(0.0, monitor.period_s / speed - (time.perf_counter() - t0)))
    stops += monitor.rule.state_events
    lat = np.asarray(latencies)
    metrics = {"steps": int(len(lat)), "skipped_incomplete_windows": int(skipped), "warnings": n_warn,
               "unplanned_stops": [str(e["time"]) for e in stops],
               "batches": sorted(set(labels.tolist())) if labels is not None else [],
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
    parser.add_argument("--batch", action="append", default=None,
                        help="replay this batch (its name as metrics.json writes it; repeatable; default: the model's "
                             "test batches)")
    parser.add_argument("--speed", type=float, default=0.0, help="pace: 1 = real time, 0 = as fast as possible")
    parser.add_argument("--out", default=None, help="output folder (default: <paths.reports>/replay)")
    args = parser.parse_args()
    cfg = load_params(args.params)
    onnx_path = Path(args.onnx or Path(cfg.paths.models) / ONNX_FILE)
    series = Path(args.series or Path(cfg.paths.data) / "line" / ALIGNED_FILE)
    out = Path(args.out or Path(cfg.paths.reports) / "replay")
    m = replay(onnx_path, series, out, args.start, args.steps, args.speed, args.batch)
    lat = m["latency_ms"]
    print(f"monitor: {m['steps']} steps, {m['warnings']} warnings, latency p50 {lat['p50']:.3f} ms, "
          f"p99 {lat['p99']:.3f} ms (window + onnxruntime + rule)")


if __name__ == "__main__":
    run_stage("monitor", main)  # an expected error (a bad series, a missing model): one line, exit 1
