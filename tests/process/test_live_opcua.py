"""Live monitoring over OPC UA against the simulated line server (loopback, free ports), on the
tiny pipeline's model and line: the same warnings as the offline replay of the same stretch, a
server restart survived (the monitor sees the loss, reconnects and forecasts every window after
it), a missing tag flagged. Every wait is on a condition with a generous timeout."""
from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from asyncua import ua
from omegaconf import OmegaConf

from pipeline.core.config import load_params
from tests.process.live_harness import offline, run_live, stretch

pytestmark = pytest.mark.slow
SPEED = 30.0  # line seconds per wall second


@pytest.fixture(scope="module")
def line(tiny_repro):
    cfg = OmegaConf.to_container(load_params(tiny_repro / "params.yaml"), resolve=True)
    cfg = OmegaConf.create(cfg)
    for key in ("data", "models", "reports"):
        cfg.paths[key] = str(tiny_repro / cfg.paths[key])
    onnx = tiny_repro / "models" / "process_lstm.onnx"
    series = tiny_repro / "data" / "line" / "aligned.parquet"
    return cfg, onnx, series


def test_live_monitor_raises_the_offline_replays_warnings(line, tmp_path):
    cfg, onnx, series = line
    start, period, lookback, end = stretch(onnx, series)
    metrics, monitor = asyncio.run(run_live(cfg, onnx, tmp_path / "live", start, end, SPEED))
    # read with Sign+Encrypt and a user (live.security, the default; docs/security.md)
    assert monitor.client.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
    assert monitor.client._username == cfg.live.security.user
    steps = int((end - start).total_seconds() / period) - lookback + 1
    want = offline(onnx, series, tmp_path / "offline", start + pd.Timedelta(seconds=(lookback - 1) * period), steps)
    got = pd.read_csv(tmp_path / "live" / "live_warnings.csv")
    assert len(want) >= 1, "the stretch holds no offline warning: the comparison would prove nothing"
    key = ["time", "target", "direction", "rec_actuator", "rec_action"]
    assert got[key].to_dict("records") == want[key].to_dict("records")
    assert got["forecast"].tolist() == pytest.approx(want["forecast"].tolist(), rel=1e-5)
    assert metrics["forecasts"] == steps and metrics["steps"] == steps + lookback - 1
    flags = pd.read_csv(tmp_path / "live" / "live_flags.csv")
    assert flags.empty, flags  # (latency is the benchmark's: benchmarks/live_monitor.py)


def test_monitor_reconnects_after_a_server_restart(line, tmp_path):
    cfg, onnx, series = line
    start, period, lookback, _ = stretch(onnx, series)
    restart = start + pd.Timedelta(seconds=300)
    end = restart + pd.Timedelta(seconds=300)  # the last windows (lookback 3 min) hold new-server samples only
    metrics, monitor = asyncio.run(run_live(cfg, onnx, tmp_path / "live", start, end, SPEED, restart_at=restart))
    flags = pd.read_csv(tmp_path / "live" / "live_flags.csv")
    assert {"connection_lost", "reconnected"} <= set(flags["flag"]), flags
    assert set(flags["flag"]) <= {"connection_lost", "reconnected", "server_silent", "server_back"}, flags
    assert metrics["connection_losses"] == metrics["reconnects"] == 1
    # every window was forecast, those after the restart from the new server's samples only
    steps = int((end - start).total_seconds() / period)
    assert metrics["steps"] == steps and metrics["forecasts"] == steps - lookback + 1
    assert monitor.last_forecast_s == (end - pd.Timedelta(seconds=period)).timestamp()


def test_a_missing_tag_is_flagged_and_nothing_is_forecast_without_it(line, tmp_path):
    cfg, onnx, series = line
    start, _, _, _ = stretch(onnx, series)
    metrics, monitor = asyncio.run(run_live(cfg, onnx, tmp_path / "live", start, start + pd.Timedelta(seconds=300),
                                            SPEED, monitor_nodes={"Turret speed": "Line.No such tag"}))
    flags = pd.read_csv(tmp_path / "live" / "live_flags.csv")
    row = flags[flags["flag"] == "missing"]
    assert row["channel"].tolist() == ["Turret speed"] and "Line.No such tag" in row["detail"].iloc[0]
    assert metrics["steps"] > monitor.model.window.L  # the other tags arrived: windows filled, but
    assert metrics["forecasts"] == 0                 # no forecast from a window with a missing channel
