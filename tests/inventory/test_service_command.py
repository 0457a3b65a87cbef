"""The README's service command on the tiny pipeline's registry: it serves the champion (or
says plainly that there is none), answers with the stage's numbers and refuses bad input."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import repro_env
from tests.inventory.http_helpers import call, free_port

pytestmark = pytest.mark.slow


def start(repo: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.inventory", "serve", "--port", str(port), *args],
                            cwd=repo, env=repro_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if call(f"{base}/health")[0] == 200:
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
                                cwd=tiny_repro, env=repro_env(), capture_output=True, text=True, timeout=120)
        assert failed.returncode != 0 and "champion" in failed.stderr and "registered versions" in failed.stderr
        args = ("--model", f"models:/{reg['name']}/{reg['version']}")
    proc, base = start(tiny_repro, *args)
    try:
        status, health = call(f"{base}/health")
        assert health["model"] == reg["name"] and health["version"] == str(reg["version"])
        log = pd.read_csv(tiny_repro / "data" / "inventory" / "log.csv", dtype=str, keep_default_na=False)
        selection = json.loads((tiny_repro / "models" / "inventory_selection.json").read_text())
        status, body = call(f"{base}/forecast/csv?as_of={selection['last_date']}", log.to_csv(index=False).encode(),
                            "text/csv")
        assert status == 200, body
        want = pd.read_csv(tiny_repro / "reports" / "inventory" / "forecast_next_days.csv")
        got = {(s["chemical"], s["location"], f["date"]): f["amount"] for s in body["series"] for f in s["forecast"]}
        assert {(r.chemical, r.location, r.date): r.forecast for r in want.itertuples()} == got
        bad = log.copy()
        bad.loc[2, "amount_taken"] = "lots"
        status, body = call(f"{base}/forecast/csv", bad.to_csv(index=False).encode(), "text/csv")
        assert status == 422 and body["rows"] == [{"row": 4, "column": "amount_taken", "reason": "amount_not_a_number", "reason_text": "amount_taken is not a number"}]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
