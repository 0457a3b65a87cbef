"""The README's service command on the tiny pipeline's registry: it serves the champion (or
says plainly that there is none), answers with the stage's numbers and refuses bad input; a
taken port is one line before "serving"; SIGTERM stops it with a line about the service."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import repro_env
from tests.inventory.http_helpers import call, free_port
from tests.inventory.trained import TOKEN

pytestmark = pytest.mark.slow


def env() -> dict:
    return {**repro_env(), "INVENTORY_SERVICE_TOKEN": TOKEN}


def start(repo: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.inventory", "serve", "--port", str(port), *args],
                            cwd=repo, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if call(f"{base}/health", headers={"authorization": f"Bearer {TOKEN}"})[0] == 200:
                return proc, base
        except OSError:
            time.sleep(0.5)
    out = proc.communicate(timeout=30)[0] if proc.poll() is not None else ""
    proc.kill()
    raise AssertionError(f"service did not start:\n{out[-3000:]}")


def test_service_command_serves_the_registered_forecaster(tiny_repro):
    metrics = json.loads((tiny_repro / "reports" / "inventory" / "metrics.json").read_text())
    reg = metrics["registry"]
    args: tuple[str, ...] = ()
    if not reg["is_champion"]:
        failed = subprocess.run([sys.executable, "-m", "pipeline.inventory", "serve", "--port", str(free_port())],
                                cwd=tiny_repro, env=env(), capture_output=True, text=True, timeout=120)
        assert failed.returncode != 0 and "champion" in failed.stderr and "registered versions" in failed.stderr
        args = ("--model", f"models:/{reg['name']}/{reg['version']}")
    proc, base = start(tiny_repro, *args)
    try:
        auth = {"authorization": f"Bearer {TOKEN}"}
        assert call(f"{base}/health")[0] == 401
        status, health = call(f"{base}/health", headers=auth)
        assert health["model"] == reg["name"] and health["version"] == str(reg["version"])
        log = pd.read_csv(tiny_repro / "data" / "inventory" / "log.csv", dtype=str, keep_default_na=False)
        selection = json.loads((tiny_repro / "models" / "inventory_selection.json").read_text())
        status, body = call(f"{base}/forecast/csv?as_of={selection['last_date']}", log.to_csv(index=False).encode(),
                            "text/csv", auth)
        assert status == 200, body
        want = pd.read_csv(tiny_repro / "reports" / "inventory" / "forecast_next_days.csv")
        got = {(s["chemical"], s["location"], f["date"]): f["amount"] for s in body["series"] for f in s["forecast"]}
        assert {(r.chemical, r.location, r.date): r.forecast for r in want.itertuples()} == got
        bad = log.copy()
        bad.loc[2, "amount_taken"] = "lots"
        status, body = call(f"{base}/forecast/csv", bad.to_csv(index=False).encode(), "text/csv", auth)
        assert status == 422 and body["rows"] == [{"row": 4, "column": "amount_taken", "reason": "amount_not_a_number", "reason_text": "amount_taken is not a number"}]
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0 and out.strip().splitlines()[-1] == "inventory service: stopped by SIGTERM", out
    assert "dvc repro" not in out


def test_a_taken_port_or_an_exposed_open_service_is_one_line_before_serving(tiny_repro):
    metrics = json.loads((tiny_repro / "reports" / "inventory" / "metrics.json").read_text())
    model = f"models:/{metrics['registry']['name']}/{metrics['registry']['version']}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for args, says in ((["--port", str(taken.getsockname()[1])], "Address already in use"),
                           (["--port", "70000"], "allowed a whole number from 1 to 65535"),
                           (["--host", "0.0.0.0", "--open"], "not a loopback address"),
                           (["--model", "models:/no-such-model/1"], "no registered model 'no-such-model'")):
            done = subprocess.run([sys.executable, "-m", "pipeline.inventory", "serve", "--model", model, *args],
                                  cwd=tiny_repro, env=env(), capture_output=True, text=True, timeout=120)
            assert done.returncode == 1 and "serving" not in done.stdout, (args, done.stdout, done.stderr)
            assert done.stderr.splitlines()[0].startswith("inventory service: error: ") and says in done.stderr, done.stderr
