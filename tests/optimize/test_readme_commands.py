"""Every `python -m pipeline.optimize ...` form the README shows runs as written (config
groups such as solver=gurobi included), in a repository of its own in tmp_path: dvc.yaml,
conf/ and a tiny params.yaml, the command run from inside it as a user would."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
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
    assert any(PLANT_FILE in f for f in forms) and readme_plant()["rooms"], forms


PLANT_FILE = "/abs/plant.yaml"


def readme_plant() -> dict:
    """The plant file the README writes out (its yaml block naming /abs/plant.yaml)."""
    text = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if PLANT_FILE in b)
    return yaml.safe_load(block)


def _plant_as_written(folder: Path, fault_onnx: Path) -> Path:
    """The README's plant file with the networks it names beside it: ours, and one trained
    elsewhere (a plain torch export with its sidecar YAML)."""
    from tests.optimize.test_foreign_network import _plain_export

    folder.mkdir()
    names = {p["network_file"] for room in readme_plant()["rooms"] for p in room["presses"]}
    for name in names:
        if name == "fault_dnn.onnx":
            shutil.copy(fault_onnx, folder / name)
        else:
            path, sidecar = _plain_export(folder)
            path.rename(folder / name)
            (folder / name).with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    path = folder / "plant.yaml"
    path.write_text(yaml.safe_dump(readme_plant()))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("form", readme_forms())
def test_readme_optimiser_command_runs_as_written(form, opt_cfg, tmp_path, fault_onnx):
    cfg = opt_cfg()
    repo = tmp_path / "repo"
    repo.mkdir()
    OmegaConf.save(cfg, repo / "params.yaml")
    (repo / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (repo / "conf").symlink_to(ROOT / "conf")
    if PLANT_FILE in form:
        if "parallel=ray" in form and importlib.util.find_spec("ray") is None:
            pytest.skip("Ray is not installed here (`make cluster`)")
        form = form.replace(PLANT_FILE, str(_plant_as_written(tmp_path / "plant", fault_onnx)))
    args = shlex.split(form)[3:]  # after `python -m pipeline.optimize`
    multirun = "-m" in args or "--multirun" in args
    extra = [f"hydra.sweep.dir={tmp_path / 'multi'}"] if multirun else []
    env = {**os.environ, "MPLBACKEND": "Agg"}
    wrap = []
    if "parallel=ray" in form:  # a one-node Ray head on loopback, in a private network namespace
        from tests.sweep.test_launchers import _netns_missing

        if reason := _netns_missing():
            pytest.skip(reason)
        wrap = ["unshare", "--net", sys.executable, str(ROOT / "tests" / "sweep" / "with_ray_head.py")]
        env["RAY_HEAD_LOG"] = str(tmp_path / "ray_head.log")
    done = subprocess.run([*wrap, sys.executable, "-m", "pipeline.optimize", *args, *extra], cwd=repo, env=env,
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
