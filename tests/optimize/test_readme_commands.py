"""Every `python -m pipeline.optimize ...` form the README shows runs as written (config
groups such as solver=gurobi included), here against a tiny configuration in tmp_path."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]


def readme_forms() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        lines += [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()
                  if line.split()[:3] == ["python", "-m", "pipeline.optimize"]]  # not pipeline.optimize.live
    return lines


def test_the_readme_shows_optimiser_commands():
    forms = readme_forms()
    assert any("solver=gurobi" in f for f in forms) and any(" -m " in f for f in forms), forms


@pytest.mark.slow
@pytest.mark.parametrize("form", readme_forms())
def test_readme_optimiser_command_runs_as_written(form, opt_cfg, tmp_path):
    cfg = opt_cfg()
    app = tmp_path / "app"
    app.mkdir()
    OmegaConf.save(cfg, app / "params.yaml")
    args = shlex.split(form)[3:]  # after `python -m pipeline.optimize`
    multirun = "-m" in args or "--multirun" in args
    extra = ["--config-path", str(app), "--config-name", "params"]
    if multirun:
        extra.append(f"hydra.sweep.dir={tmp_path / 'multi'}")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "pipeline.optimize", *args, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0 and "size-limited" in done.stderr + done.stdout:
        pytest.skip("Gurobi's licence refuses this model here")
    assert done.returncode == 0, (form, done.stderr[-3000:])
    if "--cfg" in args:  # Hydra prints the composed config and runs nothing: the override's value is in it
        shown = OmegaConf.create(done.stdout)
        for override in args[:args.index("--cfg")]:
            key, _, value = override.partition("=")
            if "/" not in key:
                assert str(OmegaConf.select(shown, key)) == value.strip('"'), (form, key, done.stdout[-2000:])
        return
    folder = (tmp_path / "multi" / "0") if multirun else Path(cfg.paths.reports) / "optimize"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["verification"]["passed"]
    if "solver=gurobi" in form:
        assert metrics["solve"]["solver"].startswith("gurobi")
