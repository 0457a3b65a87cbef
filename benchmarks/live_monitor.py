"""Benchmark: value-to-warning latency of the live monitor over OPC UA. The simulated line
server runs as its own process (`python -m pipeline.data.line_opcua`, the README command);
the monitor subscribes on loopback and, for every grid step it closes, measures from the
server's timestamp of the sample that completed the step to the warning rule's decision
(value_to_decision: every step; value_to_warning: the steps that raised a warning, which the
monitor also publishes on its own OPC UA variables and writes to its CSV first).

    python benchmarks/live_monitor.py [--speed 7] [--seconds 3600] [--from "2024-03-05 18:20:00"]
                                      [--security None SignAndEncrypt] [--rounds 1]

By default the stretch starts 10 minutes before the first warning of the forecaster's test
period (reports/process/warnings.csv; run `make repro` first), so that it holds warnings.
Each OPC UA security setting (`--security`, default: policy None, then Basic256Sha256
SignAndEncrypt with a user, certificates from a throwaway PKI) gets its own pass over the same
stretch, in turn (`--rounds` alternates them), so the settings are compared side by side in one run.
Writes reports/bench/live_monitor.json. Targets: p99 <= 1 s on 2 cores (issue 15); SignAndEncrypt
p99 < 2x policy None's (issue 26).

Why 7x by default: the server writes one line second every 1/speed s and the monitor's subscription
publishes every live.publishing_interval_ms (100 ms). At 10x both periods are 100 ms and lock in
phase, so a value always waits the same part of the interval, a part set by how the server and
the subscription happened to start. Measured at 10x: policy None p50 19-25 ms, SignAndEncrypt
84-97 ms (2.5x at p99); the same two at 7x, where the phase sweeps the whole interval in every
pass: p50 57 and 58 ms, p99 107 and 105 ms. At 10x the comparison measures start phases.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
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
from pipeline.core.opcua_security import LINE, MONITOR, USERS_FILE, make_certificate, set_user
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
    metrics = await asyncio.wait_for(task, 60)
    metrics.update(_decisions=list(monitor.latency_ms), _warnings=list(monitor.warning_latency_ms))
    return metrics, last_step - (first or last_step)


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


SECURITY = {"None": ("None", "SignAndEncrypt"), "Sign": ("Basic256Sha256", "Sign"),
            "SignAndEncrypt": ("Basic256Sha256", "SignAndEncrypt")}   # label -> (live.security policy, mode)


def run_mode(cfg, onnx_path: Path, start, end, args, label: str, tmp: Path) -> dict:
    """One pass of the stretch with the line server and the monitor secured as `label` says."""
    policy, mode = SECURITY[label]
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    cfg.live.security.policy, cfg.live.security.mode = policy, mode
    cfg.live.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-line/"
    cfg.live.publish.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-monitor/"
    params = tmp / f"params-{label}.yaml"
    OmegaConf.save(cfg, params)
    server = subprocess.Popen([sys.executable, "-m", "pipeline.data.line_opcua", "--params", str(params),
                               "--speed", str(args.speed), "--from", str(start), "--to", str(end)],
                              cwd=repo_root(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    published = threading.Event()
    try:
        while True:  # the server prints its endpoint once it listens
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("line server exited before listening")
            if line.startswith("simulated line on"):
                break
        threading.Thread(target=watch_server, args=(server, published), daemon=True).start()
        load = os.getloadavg()[0]
        m, wall = asyncio.run(measure(cfg, onnx_path, tmp / f"live-{label}", published,
                                      timeout_s=600.0 + 3 * args.seconds / args.speed))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"security": label, "policy": policy, "mode": mode, "wall_seconds": wall, "steps": m["steps"],
            "forecasts": m["forecasts"], "warnings": m["warnings"], "samples": m["samples"],
            "value_to_decision_ms": m["value_to_decision_ms"], "value_to_warning_ms": m["value_to_warning_ms"],
            "load_average_1min_before": round(load, 2), "load_average_1min_after": round(os.getloadavg()[0], 2),
            "_latencies": (m["_decisions"], m["_warnings"])}


def pooled(passes: list[dict]) -> dict:
    """Percentiles over every pass of one security setting."""
    from pipeline.process.monitor import latency_summary

    decisions = [x for p in passes for x in p["_latencies"][0]]
    warnings = [x for p in passes for x in p["_latencies"][1]]
    return {"passes": len(passes), "steps": sum(p["steps"] for p in passes),
            "warnings": sum(p["warnings"] for p in passes),
            "value_to_decision_ms": latency_summary(decisions), "value_to_warning_ms": latency_summary(warnings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=7.0,
                        help="line seconds per wall second (1 = real time; default 7: see the docstring)")
    parser.add_argument("--seconds", type=float, default=3600.0, help="line seconds to publish per pass")
    parser.add_argument("--from", dest="start", default=None, help="first line timestamp (default: see above)")
    parser.add_argument("--model", default=None, help="ONNX file (default: <paths.models>/process_lstm.onnx)")
    parser.add_argument("--security", nargs="+", default=["None", "SignAndEncrypt"], choices=list(SECURITY),
                        help="settings to compare, run in turn (default: None SignAndEncrypt)")
    parser.add_argument("--rounds", type=int, default=1, help="passes of each setting, alternating (default: 1)")
    args = parser.parse_args()
    root = repo_root()
    cfg = OmegaConf.create(OmegaConf.to_container(load_params(), resolve=True))
    onnx_path = Path(args.model or Path(cfg.paths.models) / ONNX_FILE)
    meta = read_metadata(onnx_path)
    start = pd.Timestamp(args.start) if args.start else default_start(cfg, meta)
    end = start + pd.Timedelta(seconds=args.seconds)
    steps = int(args.seconds / meta.period_s)  # grid steps in the stretch
    load_before = os.getloadavg()
    passes: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="live_bench_") as tmp:
        tmp = Path(tmp)
        # a throwaway PKI and user, as `python -m pipeline.core.opcua_security certs` / `user add` make them
        pki = tmp / "pki"
        for name in (LINE, MONITOR):
            make_certificate(pki, name)
        password = secrets.token_urlsafe(16)
        set_user(pki / USERS_FILE, str(cfg.live.security.user), password)
        os.environ[str(cfg.live.security.password_env)] = password
        cfg.live.security.pki, cfg.live.security.users_file = str(pki), None
        for _ in range(args.rounds):
            for label in args.security:
                passes.append(run_mode(cfg, onnx_path, start, end, args, label, tmp))
                d = passes[-1]["value_to_decision_ms"]
                print(f"{label}: {passes[-1]['steps']} steps, value-to-decision p50 {d['p50']:.1f} ms p99 {d['p99']:.1f} ms "
                      f"(load {passes[-1]['load_average_1min_before']:.2f})", flush=True)
    load_after = os.getloadavg()
    by_setting = {label: pooled([p for p in passes if p["security"] == label]) for label in args.security}
    base = by_setting[args.security[0]]
    ratios = {label: {kind: (v[kind]["p99"] / base[kind]["p99"]) if v[kind]["p99"] and base[kind]["p99"] else None
                      for kind in ("value_to_decision_ms", "value_to_warning_ms")}
              for label, v in by_setting.items()}
    out = {"speed": args.speed, "from": str(start), "line_seconds_per_pass": args.seconds,
           "steps_in_stretch": steps, "rounds": args.rounds, "order": args.security,
           "settings": by_setting, "p99_ratio_to_" + args.security[0]: ratios,
           "passes": [{k: v for k, v in p.items() if not k.startswith("_")} for p in passes],
           "target_p99_ms": 1000.0, "target_security_ratio": 2.0, "cores": os.cpu_count(),
           "load_average_1_5_15min": {"before": [round(x, 2) for x in load_before],
                                      "after": [round(x, 2) for x in load_after]},
           "command": (f"python benchmarks/live_monitor.py --speed {args.speed:g} --seconds {args.seconds:g} "
                       f"--security {' '.join(args.security)} --rounds {args.rounds}")}
    write_json(root / "reports" / "bench" / "live_monitor.json", out)
    for label, v in by_setting.items():
        d, w = v["value_to_decision_ms"], v["value_to_warning_ms"]
        warn = "n/a" if w["p99"] is None else f"{w['p99']:.1f} ms"
        print(f"{label}: {v['steps']} steps, {v['warnings']} warnings: value-to-decision p50 {d['p50']:.1f} ms "
              f"p99 {d['p99']:.1f} ms; value-to-warning p99 {warn}; p99 ratio to {args.security[0]}: "
              f"{ratios[label]['value_to_decision_ms'] or float('nan'):.2f} (decision), "
              f"{ratios[label]['value_to_warning_ms'] or float('nan'):.2f} (warning)")
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")


if __name__ == "__main__":
    main()
